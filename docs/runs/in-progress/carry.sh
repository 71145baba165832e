#!/usr/bin/env bash
# Carry unfinished runs from one session to the next: a session's machine, its processes and every
# untracked file end with it, so a long run's folder (checkpoints, finished methods, inversions; or a
# pretraining's out file, work folder and snapshots) is committed here until the run is done.
#
#   bash docs/runs/in-progress/carry.sh save    WORKTREE RUN...   # copy WORKTREE/runs/RUN here and commit
#   bash docs/runs/in-progress/carry.sh restore WORKTREE RUN...   # check WORKTREE out at the runs' commit, copy them back
#                                                                   # (a RUN not carried here is skipped)
#
# WORKTREE is a detached checkout of the commit the runs use (a run reuses only what the same commit
# wrote), for example .worktrees/ev64; `restore` makes it if it is missing, with links to the venv,
# ../shared and (where the repository has one) data/. Run from the repository root. Delete a run's
# folder here once its results are copied to their own docs/runs folder.
set -euo pipefail
here=docs/runs/in-progress
action=${1:?save or restore}; tree=${2:?worktree}; shift 2
case $action in
  save)
    commit=$(git -C "$tree" rev-parse HEAD)
    for run in "$@"; do
      [ -d "$tree/runs/$run" ] || { echo "$run: no such run in $tree, skipped"; continue; }
      rm -rf "$here/$run.tmp" && cp -r "$tree/runs/$run" "$here/$run.tmp"
      # a pretraining's sample grids (one PNG per checkpoint): only the newest is carried
      find "$here/$run.tmp" -path '*/samples/iter_*.png' | sort | head -n -1 | xargs -r rm
      rm -rf "$here/$run" && mv "$here/$run.tmp" "$here/$run"
      echo "$commit" > "$here/$run/COMMIT"
      git add -A "$here/$run"
    done
    git commit -q -m "in-progress runs carried at $(date -u +%H:%M) UTC: $*" -- "$here" && git log --oneline -1 ;;
  restore)
    runs=(); for run in "$@"; do
      if [ -f "$here/$run/COMMIT" ]; then runs+=("$run"); else echo "$run: not carried, skipped"; fi
    done
    [ ${#runs[@]} -gt 0 ] || exit 0
    commit=$(cat "$here/${runs[0]}/COMMIT")
    if [ ! -d "$tree" ]; then
      git worktree add --detach "$tree" "$commit"
      ln -s "$(realpath --relative-to="$tree" .venv)" "$tree/.venv"
      [ -d data ] && ln -s "$(realpath --relative-to="$tree" data)" "$tree/data"   # unpacked datasets (hundred)
      mkdir -p "$tree/logs"
      [ -e "$(dirname "$tree")/shared" ] || ln -s "$(realpath --relative-to="$(dirname "$tree")" ../shared)" "$(dirname "$tree")/shared"
    fi
    [ "$(git -C "$tree" rev-parse HEAD)" = "$commit" ] || { echo "error: $tree is not at $commit" >&2; exit 2; }
    for run in "${runs[@]}"; do
      [ "$(cat "$here/$run/COMMIT")" = "$commit" ] || { echo "error: $run ran at another commit" >&2; exit 2; }
      mkdir -p "$tree/runs" && rm -rf "$tree/runs/$run" && cp -r "$here/$run" "$tree/runs/$run"
      rm "$tree/runs/$run/COMMIT"
    done ;;
  *) echo "error: unknown action $action (save or restore)" >&2; exit 2 ;;
esac
