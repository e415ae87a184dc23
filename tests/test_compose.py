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


def pins(lock: str) -> dict[str, str]:
    """Package -> version pinned in a lock file."""
    found = {}
    for line in (ROOT / lock).read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ")[0].split("==")
            found[name] = version
    return found


def test_the_image_installs_runtime_dependencies_only() -> None:
    """The Docker image takes the runtime lock: the same versions as the dev lock, no test or
    lint tools."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-r requirements-runtime.lock" in dockerfile
    assert "requirements.lock" not in dockerfile
    runtime, dev = pins("requirements-runtime.lock"), pins("requirements.lock")
    assert {"fastapi", "torch", "spacy", "qdrant-edge-py"} <= set(runtime)
    assert not {"pytest", "mypy", "ruff", "hypothesis", "schemathesis"} & set(runtime)
    assert all(dev[name] == version for name, version in runtime.items())
