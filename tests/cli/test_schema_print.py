"""`cpni-gateway schema print`: the SDL with its @category directives (SPEC 3, 5)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main
from gateway.schema.sdl import schema_sdl


def test_schema_print_writes_the_sdl_with_its_categories() -> None:
    result = CliRunner().invoke(main, ["schema", "print"])
    assert result.exit_code == 0
    assert "directive @category(name: DataCategory" in result.stdout
    assert "cellSite: String @category(name: LOCATION, inherited: false)" in result.stdout
    assert "type Query" in result.stdout


def test_schema_print_to_a_file_writes_the_same_text(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    result = CliRunner().invoke(main, ["schema", "print", "-o", str(target)])
    assert result.exit_code == 0
    assert target.read_text() == schema_sdl()
