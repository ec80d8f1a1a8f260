"""Generated communities: reproducible for a seed, different across seeds, plotted as PNG."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from matplotlib.image import imread

from protocol.scenarios import Community, Evaluate, ScenarioError, ScenarioRun, generate_scenario

from .conftest import Runner, dense_balances, final_balances

SMALL = ("--users", "12", "--contributions", "6", "--evaluations", "150")


def test_a_seed_gives_byte_identical_csv(backfeed: Runner, tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"

    for out, seed in ((first, "5"), (second, "5"), (other, "6")):
        assert backfeed("simulate", *SMALL, "--seed", seed, "--csv", out).code == 0

    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_snapshots_have_every_user_after_every_step(backfeed: Runner) -> None:
    outcome = backfeed("simulate", *SMALL, "--kind", "whitepaper1", "--snapshot-every", "1")

    assert outcome.code == 0, outcome.err
    rows = list(csv.DictReader(io.StringIO(outcome.out)))
    assert len(rows) == 12 * (6 + 150 + 1)
    assert {row["user"] for row in rows} == {f"u{i}" for i in range(1, 13)}
    # whitepaper1 moves reputation around but conserves the total at every step.
    for step in (0, 75, 156):
        total = sum(float(row["reputation"]) for row in rows if row["step"] == str(step))
        assert total == pytest.approx(12 * 20)


@pytest.mark.parametrize("kind", ["example", "dmag", "whitepaper1"])
def test_the_changes_replay_to_the_dense_snapshots(backfeed: Runner, kind: str) -> None:
    run = ("simulate", *SMALL, "--kind", kind, "--initial-reputation", "10", "--seed", "3")
    changes = backfeed(*run)
    dense = backfeed(*run, "--snapshot-every", "1")
    assert changes.code == dense.code == 0, changes.err + dense.err

    rows = list(csv.DictReader(io.StringIO(changes.out)))
    snapshots = dense_balances(dense.out)
    # Filling in what each step left alone gives every snapshot, exactly.
    assert len(snapshots) == 6 + 150 + 1
    assert dense_balances(changes.out, last=6 + 150) == snapshots
    # Step 0 is the whole community; after it, a row is a balance the step moved.
    assert [row["user"] for row in rows if row["step"] == "0"] == [f"u{i}" for i in range(1, 13)]
    for row in rows:
        step = int(row["step"])
        if step:
            moved = (float(row["reputation"]), float(row["tokens"]))
            assert snapshots[step - 1][row["user"]] != moved
    written = sum(
        1
        for step in range(1, len(snapshots))
        for user, balances in snapshots[step].items()
        if snapshots[step - 1][user] != balances
    )
    assert written == len(rows) - 12
    assert len(rows) < len(snapshots) * 12 // 2


def test_snapshot_every_n_steps_adds_every_user(backfeed: Runner) -> None:
    outcome = backfeed("simulate", *SMALL, "--snapshot-every", "50")

    assert outcome.code == 0, outcome.err
    rows = list(csv.DictReader(io.StringIO(outcome.out)))
    for step in (0, 50, 100, 150):
        assert sum(row["step"] == str(step) for row in rows) == 12
    assert dense_balances(outcome.out) == dense_balances(
        backfeed("simulate", *SMALL, "--snapshot-every", "1").out
    )


def test_vote_probability_sets_the_share_of_ones() -> None:
    # About one vote per user and contribution: no pair comes near the limit of changes.
    scenario = generate_scenario(
        Community(users=80, contributions=50, evaluations=4000, vote_probability=0.25, seed=1)
    )

    votes = [step.value for step in scenario.steps if isinstance(step, Evaluate)]

    assert len(votes) == 4000
    assert set(votes) == {0, 1}
    assert sum(votes) / len(votes) == pytest.approx(0.25, abs=0.03)


def test_contributions_come_first_and_are_evaluated_only_once_made() -> None:
    scenario = generate_scenario(Community(users=3, contributions=9, evaluations=60, seed=2))

    made: set[str] = set()
    for number, step in enumerate(scenario.steps):
        if isinstance(step, Evaluate):
            assert step.contribution in made
        else:
            assert number > 0 or step.name == "c1"
            made.add(step.name)
    assert made == {f"c{i}" for i in range(1, 10)}


def test_plot_writes_a_png(backfeed: Runner, tmp_path: Path) -> None:
    plot = tmp_path / "run.png"

    outcome = backfeed("simulate", *SMALL, "--plot", plot, "--top", "4")

    assert outcome.code == 0, outcome.err
    assert outcome.out == ""  # with --plot and no --csv, no CSV is written
    height, width, _channels = imread(plot).shape
    assert width > 300
    assert height > 300


def test_progress_bar_on_request(backfeed: Runner, tmp_path: Path) -> None:
    outcome = backfeed("simulate", *SMALL, "--csv", tmp_path / "out.csv", "--progress")

    assert outcome.code == 0
    assert "100%  156/156" in outcome.err
    assert outcome.err.endswith("\n")


def test_no_progress_bar_when_stderr_is_not_a_terminal(backfeed: Runner, tmp_path: Path) -> None:
    outcome = backfeed("simulate", *SMALL, "--csv", tmp_path / "out.csv")

    assert outcome.code == 0
    assert outcome.err == ""


def test_overrides_reach_the_contract(backfeed: Runner) -> None:
    one_article = ("simulate", "--users", "2", "--contributions", "1", "--evaluations", "0")

    def tokens_after_the_article(*extra: str) -> list[str]:
        outcome = backfeed(*one_article, *extra)
        assert outcome.code == 0, outcome.err
        return sorted(str(tokens) for _, tokens in dense_balances(outcome.out)[1].values())

    assert tokens_after_the_article() == ["49.0", "50.0"]
    assert tokens_after_the_article("--override", "article.fee=7") == ["43.0", "50.0"]


def changes_by_pair(steps) -> dict[tuple[str, str], int]:
    """How many times each (evaluator, contribution) pair's value changes in ``steps``."""
    standing: dict[tuple[str, str], int] = {}
    changes: dict[tuple[str, str], int] = {}
    for step in steps:
        if isinstance(step, Evaluate):
            pair = (step.evaluator, step.contribution)
            if pair in standing and standing[pair] != step.value:
                changes[pair] = changes.get(pair, 0) + 1
            standing[pair] = step.value
    return changes


@pytest.mark.parametrize(("overrides", "limit"), [({}, 5), ({"max_vote_changes": 0}, 0)])
def test_generated_votes_change_no_more_than_the_contract_allows(
    overrides: dict, limit: int
) -> None:
    """Hundreds of votes per pair: each pair's value changes ``max_vote_changes`` times at
    most (later draws repeat it), so the engine accepts every step."""
    community = Community(
        users=4, contributions=2, evaluations=1500, vote_probability=0.5, overrides=overrides
    )
    scenario = generate_scenario(community)

    changes = changes_by_pair(scenario.steps)
    assert max(changes.values(), default=0) == limit
    assert len(changes) == (6 if limit else 0)  # 4 users x 2 contributions, no owner
    ScenarioRun(scenario).run()


def test_nobody_evaluates_their_own_contribution() -> None:
    """Evaluators are drawn among the other users, so the default rules accept every vote."""
    scenario = generate_scenario(Community(users=2, contributions=4, evaluations=300, seed=3))

    owners = {
        step.name: step.contributor for step in scenario.steps if not isinstance(step, Evaluate)
    }
    votes = [step for step in scenario.steps if isinstance(step, Evaluate)]
    assert {vote.evaluator for vote in votes} == {"u1", "u2"}
    assert all(vote.evaluator != owners[vote.contribution] for vote in votes)
    ScenarioRun(scenario).run()


def test_one_user_cannot_evaluate() -> None:
    with pytest.raises(ScenarioError, match="two users"):
        generate_scenario(Community(users=1, contributions=1, evaluations=1))


def test_a_community_without_reputation_is_warned_about(backfeed: Runner) -> None:
    frozen = backfeed("simulate", *SMALL, "--kind", "dmag")

    assert frozen.code == 0, frozen.err
    assert "warning: every user starts with 0 reputation" in frozen.err
    assert "--initial-reputation" in frozen.err
    assert {balances[0] for balances in final_balances(frozen.out).values()} == {0.0}


@pytest.mark.parametrize("kind", ["example", "dmag", "whitepaper1"])
def test_initial_reputation_starts_every_kind(backfeed: Runner, kind: str) -> None:
    given = backfeed("simulate", *SMALL, "--kind", kind, "--initial-reputation", "7.5")

    assert given.code == 0, given.err
    assert given.err == ""
    start = dense_balances(given.out)[0]
    assert {balances[0] for balances in start.values()} == {7.5}
    assert final_balances(given.out) != start


def test_no_starting_reputation_warns_with_any_kind(backfeed: Runner) -> None:
    outcome = backfeed("simulate", *SMALL, "--initial-reputation", "0")

    assert outcome.code == 0, outcome.err
    assert "warning: every user starts with 0 reputation" in outcome.err


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "lots"])
def test_initial_reputation_must_be_a_balance(backfeed: Runner, value: str) -> None:
    outcome = backfeed("simulate", *SMALL, "--initial-reputation", value)

    assert outcome.code == 2
    assert "--initial-reputation" in outcome.err
