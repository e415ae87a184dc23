"""docker-compose.yml configures exactly the settings the code reads."""

from pathlib import Path

import yaml

from engine.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_compose_environment_matches_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    configured = set(compose["x-settings"])
    assert configured == {name.upper() for name in Settings.model_fields}
    for name in ("api", "worker"):
        assert compose["services"][name]["environment"] == compose["x-settings"]
        assert "healthcheck" in compose["services"][name]
    assert set(compose["services"]) == {"api", "worker", "postgres", "qdrant"}
