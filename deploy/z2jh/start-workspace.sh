#!/bin/sh
# postStart hook of every student pod (config.yaml, singleuser.lifecycleHooks): create or update the student's
# workspace ~/backprop-lab-workspace from the course in the image (the name the tested recipe uses, tools/hub), with the project's own command.
#
# Kubernetes does not report the container as started until this hook returns, so KubeSpawner waits for it and
# the student's first page already shows the workspace. It runs at every server start: tools.editions is a
# three-way update (files the course changed are updated, files the student changed are kept and listed, both ->
# the course's version is written beside as <name>.upstream<suffix>), so a course update reaches each student at
# their next start without losing work.
#
# It always exits 0: a failing postStart hook makes Kubernetes kill the container, and a student whose home is
# full could then never get a server to free space. What happened is in ~/backprop-lab-update.log instead, next
# to the workspace in the file browser.
home=/home/jovyan
log="$home/backprop-lab-update.log"
cd /opt/backprop-lab || exit 0
{
    echo "backprop-lab workspace update, $(date -u '+%Y-%m-%d %H:%M UTC')"
    # 240 s: under KubeSpawner's start timeout (singleuser.startTimeout), which counts this hook.
    if ! timeout 240 /opt/backprop-lab/.venv/bin/python -m tools.editions --no-start-line "$home/backprop-lab-workspace"; then
        echo "The update did not finish (above: why). Your files are as they were; it runs again at your next start."
    fi
} >"$log" 2>&1
exit 0
