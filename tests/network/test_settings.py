"""The network's two settings: their defaults, and out-of-range values refused at start."""
import pytest

from config import ConfigError, DevelopmentConfig


def test_defaults():
    config = DevelopmentConfig()
    assert (config.FEED_LIMIT, config.MAX_PICTURE_BYTES) == (50, 5 * 1024 * 1024)


@pytest.mark.parametrize("name, value", [("FEED_LIMIT", "0"), ("FEED_LIMIT", "501"), ("FEED_LIMIT", "many"),
                                         ("MAX_PICTURE_BYTES", "10")])
def test_out_of_range_settings_refuse_to_start(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        DevelopmentConfig().validate()
