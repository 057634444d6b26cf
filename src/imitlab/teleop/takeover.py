"""Human-gated DAgger (HG-DAgger, Kelly et al. 2019) in the browser: a trained policy drives, the person takes over
where it goes wrong, and only the steps the person drove are kept, as expert labels on the states the policy led
to. "Retrain" aggregates them with the policy's demonstrations and trains the next round in a background process.

The directory ``out`` keeps ``imitlab dagger``'s bookkeeping: ``out/data`` the aggregated dataset (at the start, a
copy of the demonstrations the policy was trained on), ``out/round-k`` the run of round k (round 0 is the given
policy, not copied), and ``out/rounds.jsonl`` one line per retrained round: its data size, the person's labels so
far, and its success on evaluation seeds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from imitlab.core.appendlog import append_record, complete_text
from imitlab.core.errors import InvalidInputError
from imitlab.data.reader import load_dataset
from imitlab.training.checkpoint import read_run_config
from imitlab.training.run_dir import read_metrics

ROUNDS_FILE = "rounds.jsonl"


@dataclass
class TakeoverRound:
    round: int
    episodes: int  # episodes in the aggregated dataset it was trained on
    expert_labels: int  # frames in that dataset (demonstrations plus the person's labels)
    person_labels: int  # of those, frames the person labelled by taking over
    successes: int
    evaluated: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_return: float
    episode_success: list[bool]


def prepare(out: Path, policy_run: Path) -> Path:
    """``out/data``: the aggregated dataset, a copy of the policy's training data the first time; returns it."""
    data = Path(out) / "data"
    if not (data / "meta" / "info.json").is_file():
        source = read_run_config(policy_run, "data").get("data")
        if not source or not (Path(source) / "meta" / "info.json").is_file():
            raise InvalidInputError(
                f"{policy_run}/config.json names no dataset that exists ({source!r}): take-over aggregates the "
                "person's labels with the policy's demonstrations"
            )
        tmp = data.with_name(".data.copying")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        tmp.rename(data)
    return data


def rounds(out: Path) -> list[TakeoverRound]:
    """The retrained rounds so far (a line a kill cut short is not a round)."""
    return [TakeoverRound(**json.loads(line)) for line in complete_text(Path(out) / ROUNDS_FILE).splitlines()]


def latest_run(out: Path, policy_run: Path) -> Path:
    """The run the session starts with: the last retrained round's, else the given policy's."""
    done = rounds(out)
    return Path(out) / f"round-{done[-1].round}" if done else Path(policy_run)


class Retraining:
    """One round retrained in a background process (``imitlab train`` on the aggregated data with the policy's
    head and training settings, then ``imitlab eval``); ``progress()`` says where it is, for the page, and once it
    has finished records the round in rounds.jsonl and calls ``on_finish`` with the round's run."""

    def __init__(
        self,
        out: Path,
        policy_run: Path,
        base_frames: int,
        eval_episodes: int,
        seed: int,
        on_finish: Callable[[Path], object] = lambda run: None,
    ):
        self.out = Path(out)
        done = rounds(self.out)
        self.round = (done[-1].round if done else 0) + 1
        self.run = self.out / f"round-{self.round}"
        config = read_run_config(policy_run, "train_config")
        self.steps = int(config["train_config"]["steps"])
        self.base_frames = base_frames  # frames of the policy's own demonstrations
        self.eval_json = self.run / "eval.json"
        command = [sys.executable, "-m", "imitlab.cli"]
        train = [
            *command,
            "train",
            "--policy",
            config["policy"],
            "--data",
            str(self.out / "data"),
            "--out",
            str(self.run),
            "--seed",
            str(seed),
            "--steps",
            str(self.steps),
            "--resume",
        ]
        evaluate = [
            *command,
            "eval",
            "--checkpoint",
            str(self.run),
            "--episodes",
            str(eval_episodes),
            "--seed",
            str(seed),
            "--json",
            str(self.eval_json),
        ]
        script = f"{subprocess.list2cmdline(train)} && {subprocess.list2cmdline(evaluate)}"
        self.log = self.out / f"round-{self.round}.log"
        self.out.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(script, shell=True, stdout=log, stderr=subprocess.STDOUT)
        self.finished: Path | None = None
        self.on_finish = on_finish

    @property
    def busy(self) -> bool:
        """Whether the round is still training or evaluating."""
        return self.process.poll() is None

    def progress(self) -> str:
        if self.finished is not None:
            return self._summary()
        code = self.process.poll()
        if code is None:
            metrics = read_metrics(self.run) if (self.run / "metrics.jsonl").is_file() else []
            step = metrics[-1]["step"] if metrics else 0
            if step < self.steps:
                return f"round {self.round}: training, step {step} / {self.steps}"
            return f"round {self.round}: evaluating"
        if code != 0:
            return f"round {self.round} failed (exit {code}): see {self.log}"
        self._record()
        return self._summary()

    def _record(self) -> None:
        result = json.loads(self.eval_json.read_text())
        dataset = load_dataset(self.out / "data")
        record = TakeoverRound(
            round=self.round,
            episodes=dataset.num_episodes,
            expert_labels=dataset.num_frames,
            person_labels=dataset.num_frames - self.base_frames,
            **{key: result[key] for key in ("successes", "success_rate", "ci_low", "ci_high", "mean_return")},
            evaluated=result["episodes"],
            episode_success=result["episode_success"],
        )
        append_record(self.out / ROUNDS_FILE, json.dumps(asdict(record)) + "\n")
        self.finished = self.run
        self.on_finish(self.run)

    def _summary(self) -> str:
        last = rounds(self.out)[-1]
        return (
            f"round {last.round}: success {last.success_rate:.0%} [{last.ci_low:.0%}, {last.ci_high:.0%}] on "
            f"{last.evaluated} episodes, trained on {last.expert_labels} labels ({last.person_labels} yours); "
            "it drives from the next episode"
        )
