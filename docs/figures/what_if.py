"""The figure of docs/simulation.rst, drawn by the docs build: a community's history replayed
under another stake, through the same replay and plot as ``backfeed replay``.

The history is a generated one (300 users, 30 articles, 3,000 votes) rather than one read
from a database, so that the build needs no server; from the history on, every step is the
command's.
"""

import matplotlib.pyplot as plt
import numpy as np

from backfeed_api.domain.replay import History, Votes, compare
from backfeed_api.domain.replay_report import FIGURE_INCHES, what_if_figure
from protocol import create_contract
from protocol.scenarios import (
    Community,
    Contribute,
    Evaluate,
    Join,
    ScenarioRun,
    generate_scenario,
)

community = Community(users=300, contributions=30, evaluations=3_000, seed=7)
scenario = generate_scenario(community)
actual = ScenarioRun(scenario)
actual.run()

users, contributions, evaluations = [], [], []
user_ids, contribution_ids = {}, {}
for seq, action in enumerate([*scenario.setup, *scenario.steps], start=1):
    match action:
        case Join(name, reputation, tokens, _):
            user_ids[name] = len(users) + 1
            opening = actual.simulation.contract.new_user_balances(reputation, tokens)
            users.append((user_ids[name], seq, 0.0, None, *opening))
        case Contribute(name, contributor, kind):
            contribution_ids[name] = len(contributions) + 1
            contributions.append((contribution_ids[name], seq, 0.0, user_ids[contributor], kind))
        case Evaluate(evaluator, contribution, value):
            target = contribution_ids[contribution]
            evaluations.append(
                (len(evaluations) + 1, seq, 0.0, user_ids[evaluator], target, value)
            )
history = History(
    users=users,
    contributions=contributions,
    evaluations=Votes.from_rows(evaluations),
    user_ids=np.arange(1, len(users) + 1),
    reputation=actual.simulation.users.reputation.copy(),
    tokens=actual.simulation.users.tokens.copy(),
)
result = compare(history, create_contract("example"), {"article.stake": 0.05})
figure = plt.figure(figsize=FIGURE_INCHES, layout="constrained")
what_if_figure(result, figure, title="example: what if article.stake had been 0.05")
