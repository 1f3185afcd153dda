"""The commands the docs tell people to type, run: every code block marked runnable in
README.md or docs/ runs in bash in a copy of the reproduced tiny pipeline (tiny params, its
DVC cache and MLflow store, committed, as a clone after `make run` would be).

Mark a block by putting an HTML comment on the line above its fence (invisible on the site
and on GitHub)::

    <!-- runnable -->          quick on tiny params: runs in `make test`
    <!-- runnable: slow -->    retrains (an experiment, a sweep): runs in `make test-slow`

Mark only what works on both the default and the tiny params (`train.epochs` is set in
the tiny ones and `train.steps` in the default: a block that sets one of them fails).
"""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.pipeline_repo import REPO_ROOT, run

MARKER = re.compile(r"^<!--\s*runnable(?::\s*(?P<tier>[a-z]+))?\s*-->\s*$")
FENCE = re.compile(r"^```(?P<language>[a-z]*)")
TIERS = ("", "slow")
BLOCK_TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    source: str  # path relative to the repository, and the fence's line number
    code: str
    tier: str  # "" for make test, "slow" for make test-slow

    def __str__(self) -> str:
        return self.source


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def runnable_blocks(path: Path, root: Path = REPO_ROOT) -> list[Block]:
    """The marked blocks of one Markdown file; a marker not followed by a shell fence, or
    with an unknown tier, is an error naming its line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for number, line in enumerate(lines, start=1):
        marker = MARKER.match(line)
        if not marker:
            continue
        where = f"{path.relative_to(root)}:{number}"
        tier = marker["tier"] or ""
        if tier not in TIERS:
            raise ValueError(f"{where}: unknown tier {tier!r} (runnable or runnable: slow)")
        fence = FENCE.match(lines[number]) if number < len(lines) else None
        if not fence or fence["language"] not in ("bash", "sh"):
            raise ValueError(f"{where}: a runnable marker must sit right above a ```bash block")
        end = next(i for i in range(number + 1, len(lines)) if lines[i].startswith("```"))
        code = "\n".join(lines[number + 1 : end])
        blocks.append(Block(f"{path.relative_to(root)}:{number + 1}", code, tier))
    return blocks


BLOCKS = [block for path in documents(REPO_ROOT) for block in runnable_blocks(path)]


@pytest.fixture
def clone(pipeline_copy) -> Path:
    run(["git", "add", "-A"], pipeline_copy)
    run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"], pipeline_copy
    )
    return pipeline_copy


def run_block(block: Block, repo: Path) -> None:
    result = run(["bash", "-euo", "pipefail", "-c", block.code], repo, check=False)
    assert result.returncode == 0, (
        f"{block} exited {result.returncode}:\n$ {block.code}\n{result.stdout}\n{result.stderr}"
    )


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.tier == ""], ids=str)
def test_a_runnable_block_runs(block, clone):
    run_block(block, clone)


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.tier == "slow"], ids=str)
def test_a_slow_runnable_block_runs(block, clone):
    run_block(block, clone)


def test_the_docs_mark_blocks_in_both_tiers():
    sources = {block.source.split(":")[0] for block in BLOCKS}
    assert "README.md" in sources and "docs/tutorial.md" in sources
    assert {block.tier for block in BLOCKS} == set(TIERS)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<!-- runnable -->\nplain text\n", "must sit right above a ```bash block"),
        ("<!-- runnable -->\n```python\nprint(1)\n```\n", "must sit right above a ```bash block"),
        ("<!-- runnable: later -->\n```bash\ntrue\n```\n", "unknown tier 'later'"),
    ],
)
def test_a_misplaced_marker_is_an_error(tmp_path, text, problem):
    path = tmp_path / "page.md"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(problem)):
        runnable_blocks(path, tmp_path)


def test_blocks_are_found_with_their_code_and_tier(tmp_path):
    path = tmp_path / "page.md"
    path.write_text(
        "# t\n<!-- runnable: slow -->\n```bash\necho a\necho b\n```\n```bash\nno\n```\n"
    )
    (block,) = runnable_blocks(path, tmp_path)
    assert (block.source, block.code, block.tier) == ("page.md:3", "echo a\necho b", "slow")
