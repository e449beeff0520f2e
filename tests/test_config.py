"""The configuration object refuses every bad value with a message naming it."""

import json

import pytest

from dcom.cli import _build_parser, config_from_args
from dcom.config import ConfigError, DcomConfig, parse_dims


def test_defaults_are_the_papers_design_point():
    cfg = DcomConfig()
    assert (cfg.cluster_rows, cfg.cluster_cols, cfg.grid_rows, cfg.grid_cols) == (16, 16, 8, 8)
    assert cfg.n_multipliers == 16 * 16 * 8 * 8
    assert cfg.acc_format == "fp32" and cfg.mul_format == "fp16"
    assert cfg.row_tree_levels == 3 and cfg.col_tree_levels == 3


@pytest.mark.parametrize("parameter, value, allowed", [
    ("cluster_rows", 0, "integers >= 1"),
    ("cluster_cols", -3, "integers >= 1"),
    ("cluster_rows", 2.0, "integers >= 1"),
    ("cluster_rows", True, "integers >= 1"),
    ("buffer_depth", 0, "integers from 1 to 65536"),
    ("buffer_depth", 10 ** 12, "integers from 1 to 65536"),
    ("bank_depth", -1, "integers from 1 to 65536"),
    ("broadcast_depth", 0, "integers from 1 to 65536"),
    ("program_depth", 65537, "integers from 1 to 65536"),
    ("grid_rows", 0, "powers of two"),
    ("grid_rows", 6, "powers of two"),
    ("grid_cols", 12, "powers of two"),
    ("grid_cols", "8", "powers of two"),
    ("mul_format", "fp32", "'fp16'"),
    ("acc_format", "bf16", "'fp32', 'fp16'"),
    ("bank_width", 100, "multiples of 16"),
    ("bank_width", 0, "multiples of 16"),
    ("expansion", 3, "powers of two that divide the 256 clusters"),
    ("expansion", 512, "powers of two that divide the 256 clusters"),
    ("expansion", 0, "powers of two that divide the 256 clusters"),
    ("mul_stages", -1, "integers from 0 to 16"),
    ("mul_stages", 100000, "integers from 0 to 16"),
    ("add_stages", 1.5, "integers from 0 to 16"),
    ("tree_registers", 1, "True, False"),
    ("clock_mhz", 0, "numbers from 1 to 100000 (MHz)"),
    ("clock_mhz", 1e-320, "numbers from 1 to 100000 (MHz)"),
    ("clock_mhz", float("inf"), "numbers from 1 to 100000 (MHz)"),
    ("clock_mhz", float("nan"), "numbers from 1 to 100000 (MHz)"),
])
def test_bad_values_are_refused_naming_parameter_and_allowed(parameter, value, allowed):
    with pytest.raises(ConfigError) as info:
        DcomConfig(**{parameter: value})
    message = str(info.value)
    assert message.startswith(f"{parameter}={value!r} is not allowed")
    assert allowed in message
    assert info.value.parameter == parameter


def test_expansion_must_divide_the_cluster_count():
    with pytest.raises(ConfigError, match=r"expansion=8 .* divide the 12 clusters: 1, 2, 4"):
        DcomConfig(cluster_rows=3, cluster_cols=4, expansion=8)
    DcomConfig(cluster_rows=3, cluster_cols=4, expansion=4)


def test_reduction_groups_of_a_non_square_array():
    # A row of 4 clusters reduces in one group of gcd(4, 4) = 4; a column of 3 in 3 groups of
    # gcd(4, 3) = 1, which the stream tree sums in 2 levels; the 3 row sums take 2 more.
    cfg = DcomConfig(cluster_rows=3, cluster_cols=4, expansion=4)
    assert cfg.reduction_group_sizes == (4, 1)
    assert cfg.reduction_group_counts == (1, 3)
    assert (cfg.stream_levels, cfg.cross_levels, cfg.network_slices) == (2, 2, 4)
    # Adders of 4 stages and a register: 5 cycles a level. 1 + 2 x 5 (stream) + 2 x 5 (cross).
    assert (cfg.network_latency, cfg.cross_latency) == (21, 10)


def test_round_trip_and_unknown_keys():
    cfg = DcomConfig(cluster_rows=2, cluster_cols=4, grid_rows=4, grid_cols=2, expansion=2)
    assert DcomConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ConfigError, match=r"clusterz=.*allowed values: .*cluster_rows"):
        DcomConfig.from_dict({"clusterz": 4})


def test_replace_validates():
    with pytest.raises(ConfigError, match="grid_cols=3"):
        DcomConfig().replace(grid_cols=3)


@pytest.mark.parametrize("text", ["16", "4x", "x4", "ax4", "4x4x4", ""])
def test_parse_dims_refuses_malformed(text):
    with pytest.raises(ConfigError, match="ROWSxCOLS"):
        parse_dims(text, "--clusters")


def test_cli_options_build_the_config(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"acc_format": "fp16", "expansion": 2}))
    args = _build_parser().parse_args(
        ["generate", "--config", str(path), "--clusters", "2x4", "--grid", "4x4"])
    cfg = config_from_args(args)
    assert (cfg.cluster_rows, cfg.cluster_cols, cfg.grid_rows, cfg.grid_cols) == (2, 4, 4, 4)
    assert cfg.acc_format == "fp16" and cfg.expansion == 2


def test_cli_reports_bad_values_and_exits_2(capsys):
    from dcom.cli import main
    with pytest.raises(SystemExit) as info:
        main(["generate", "--grid", "8x6"])
    assert info.value.code == 2
    assert "grid_cols=6 is not allowed; allowed values: powers of two" in capsys.readouterr().err


def test_expansion_default_adapts_to_a_small_array(capsys):
    """The README's ``dcom regress --clusters 2x2 --grid 4x4``: f = 8 needs 8 clusters, so the
    default becomes the largest that fits, with a note; a given f is never changed."""
    cfg = config_from_args(_build_parser().parse_args(["perf", "--clusters", "2x2"]))
    assert cfg.expansion == 4
    assert "using --expansion 4" in capsys.readouterr().err
    assert config_from_args(_build_parser().parse_args(["perf", "--clusters", "3x1"])).expansion == 1
    with pytest.raises(ConfigError, match="expansion=8"):
        config_from_args(_build_parser().parse_args(["perf", "--clusters", "2x2",
                                                     "--expansion", "8"]))


@pytest.mark.parametrize("content, allowed", [
    ("[1, 2]", "a JSON object"), ("3", "a JSON object"), ("null", "a JSON object"),
    (b"\xff\xfe{", "a UTF-8 JSON file"), ("{", "valid JSON"), (None, "a readable JSON file"),
])
def test_bad_config_files_are_refused(tmp_path, content, allowed):
    path = tmp_path / "cfg.json"
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError, match="--config") as info:
        config_from_args(_build_parser().parse_args(["perf", "--config", str(path)]))
    assert allowed in str(info.value)


def test_out_naming_a_file_is_refused(tmp_path, capsys):
    from dcom.cli import main
    taken = tmp_path / "report.txt"
    taken.write_text("")
    with pytest.raises(SystemExit) as info:
        main(["perf", "--out", str(taken)])
    assert info.value.code == 2
    assert "--out=" in capsys.readouterr().err
