"""dcom tb."""
