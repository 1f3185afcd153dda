import pytest

from gantrack.cli.study import build_parser


@pytest.mark.parametrize("poll", ["0", "-1", "nan", "inf"])
def test_a_poll_that_is_not_a_positive_number_of_seconds_is_refused_before_queueing(poll, capsys):
    # a negative one once crashed the watch loop after the runs were queued
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["run", "studies/grid.yaml", "--poll", poll])
    assert stop.value.code == 2
    assert "expected a number of seconds > 0" in capsys.readouterr().err


def test_run_takes_a_positive_poll_and_worker_count():
    arguments = build_parser().parse_args(["run", "studies/grid.yaml", "--poll", "2.5", "-j", "2"])
    assert (arguments.poll, arguments.jobs) == (2.5, 2)
