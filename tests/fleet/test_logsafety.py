"""The secret-bearing loggers are capped: no DEBUG records ever, and no chattier than the root."""

from __future__ import annotations

import logging

import pytest

from fleet import cap_secret_bearing_loggers
from fleet.logsafety import SECRET_BEARING_LOGGERS


@pytest.fixture(autouse=True)
def levels_restored():
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in SECRET_BEARING_LOGGERS}
    for name in SECRET_BEARING_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def test_under_a_debug_root_the_loggers_still_write_no_debug_records():
    logging.getLogger().setLevel(logging.DEBUG)
    cap_secret_bearing_loggers()
    for name in SECRET_BEARING_LOGGERS:
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.DEBUG), name
        assert logger.isEnabledFor(logging.INFO), name


def test_under_a_warning_root_the_cap_does_not_let_info_records_through():
    logging.getLogger().setLevel(logging.WARNING)
    cap_secret_bearing_loggers()
    assert not logging.getLogger("botocore.credentials").isEnabledFor(logging.INFO)


def test_a_level_someone_set_higher_is_kept():
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("botocore.auth").setLevel(logging.ERROR)
    cap_secret_bearing_loggers()
    assert logging.getLogger("botocore.auth").level == logging.ERROR


def test_a_baton_log_line_with_control_characters_stays_one_printable_line(caplog):
    import logging

    logging.getLogger("baton.worker").error("refused job %s", "j\n[forged]\x1b[2J\tend")

    [record] = [r for r in caplog.records if r.name == "baton.worker"]
    assert record.getMessage() == "refused job j\\n[forged]\\x1b[2J\\tend"
