"""ops/Dockerfile: multi-stage, non-root, every package inside, no credentials baked in."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

from tests.ops.fleet import CREDENTIAL_NAME, DOCKERFILE, ROOT


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, instruction: str) -> list[str]:
        return [args for keyword, args in self.instructions if keyword == instruction]


def instructions() -> list[tuple[str, str]]:
    """Return (KEYWORD, arguments) pairs, with continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    pairs = []
    for text in logical:
        keyword, _, args = text.partition(" ")
        pairs.append((keyword.upper(), args.strip()))
    return pairs


def stages() -> list[Stage]:
    found: list[Stage] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args, flags=re.IGNORECASE)
            assert match, f"cannot read FROM {args}"
            found.append(Stage(base=match[1], name=match[2]))
        elif found:
            found[-1].instructions.append((keyword, args))
    assert found, "the Dockerfile has no FROM"
    return found


def test_the_image_is_built_in_more_than_one_stage():
    assert len(stages()) >= 2


def test_the_final_stage_runs_as_a_numeric_non_root_user():
    users = stages()[-1].args_of("USER")
    assert users, "the final stage never switches user, so it runs as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, f"USER {users[-1]} is not a numeric non-root uid"
    assert not group or (group.isdigit() and int(group) != 0), f"USER {users[-1]}"


def test_nothing_runs_after_switching_to_the_unprivileged_user():
    final = stages()[-1]
    keywords = [keyword for keyword, _ in final.instructions]
    after_user = keywords[len(keywords) - keywords[::-1].index("USER") :]
    assert "RUN" not in after_user and "USER" not in after_user


def test_the_final_stage_installs_what_the_build_stage_built():
    build, final = stages()[0], stages()[-1]
    assert build.name, "the build stage needs a name to be copied from"
    assert any(f"--from={build.name}" in args for args in final.args_of("COPY"))
    assert any("pip wheel" in args for args in build.args_of("RUN"))
    assert any("--no-index" in args for args in final.args_of("RUN"))


def test_every_package_is_copied_into_the_build_stage():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {name.split(".")[0] for name in pyproject["tool"]["setuptools"]["packages"]}
    copies = stages()[0].args_of("COPY")
    for package in sorted(packages):  # a subpackage (envelope.data) comes with its parent
        assert f"{package} {package}" in copies, f"COPY {package} {package} is missing"


def declared_names(args: str) -> list[str]:
    """Names set by ``ARG``/``ENV``: ``A=1 B=2``, ``ARG NAME`` or legacy ``ENV NAME value``."""
    tokens = args.split()
    if tokens and "=" not in tokens[0]:
        return tokens[:1]
    return [token.split("=", 1)[0] for token in tokens if "=" in token]


def test_the_dockerfile_declares_no_credential_build_args_or_env():
    declared = []
    for keyword, args in instructions():
        if keyword in {"ARG", "ENV"}:
            declared += declared_names(args)
    assert declared, "the Dockerfile sets its Python environment with ENV"
    assert [name for name in declared if CREDENTIAL_NAME.search(name.upper())] == []
