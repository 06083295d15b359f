"""Where `make stack` keeps PostgreSQL's data. Run as root, it starts PostgreSQL as the postgres
user, which must reach its data and socket: in the state dir when it can pass through every folder
above it, else (a checkout in root's 0700 home) in its own home, one folder per state dir; and a
clear refusal naming STATE_DIR when it can reach neither."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from devtools.stack import closed_to_others, postgres_place


@pytest.fixture
def private_and_open(tmp_path):
    """A checkout's state dir under a 0700 folder, and an open home for the postgres user."""
    private = tmp_path / "root-home"
    (private / "checkout" / ".stack").mkdir(parents=True)
    private.chmod(0o700)
    home = Path(tempfile.mkdtemp(prefix="postgres-home-"))
    home.chmod(0o755)
    if closed_to_others(home / "x") is not None:
        pytest.skip(f"{home}: the temp folder's parents are closed to others here")
    yield private, home
    private.chmod(0o755)
    home.rmdir()


def test_a_state_dir_the_postgres_user_cannot_reach_moves_postgres_to_its_home(private_and_open):
    private, home = private_and_open
    state_dir = private / "checkout" / ".stack"
    place = postgres_place(state_dir, home)
    assert place.blocked_by == private
    assert place.data.parent == place.socket_dir.parent
    assert place.data.parent.parent == home / "airflow-automl-stack"
    # The same state dir finds its database again; another checkout's stack keeps its own.
    assert postgres_place(state_dir, home) == place
    assert postgres_place(private / "other" / ".stack", home).data != place.data


def test_a_reachable_state_dir_or_no_other_user_keeps_postgres_in_the_state_dir(private_and_open):
    private, home = private_and_open
    assert postgres_place(home / ".stack", home).data == home / ".stack" / "postgres"
    assert postgres_place(home / ".stack", home).socket_dir == home / ".stack" / "run"
    # Not root: PostgreSQL runs as this user, who reaches its own state dir.
    assert postgres_place(private / "checkout" / ".stack", None).blocked_by is None


def test_when_the_postgres_user_can_reach_neither_the_refusal_says_to_choose_a_state_dir(private_and_open):
    private, home = private_and_open
    with pytest.raises(RuntimeError, match=rf"^{private}: others may not pass through it.*STATE_DIR="):
        postgres_place(private / "checkout" / ".stack", private / "postgres-home")
