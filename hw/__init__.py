"""dcom hw."""
