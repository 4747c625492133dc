# Instructors (the hub's pre-spawn hook sets JUPYTER_CONFIG_PATH=/etc/backprop-lab/jupyter-instructor and mounts
# the course volume at /srv/grading; config.yaml, hub.extraConfig). No server extension is disabled
# here, so the formgrader, "Create assignment" and the course list are on.
c = get_config()  # noqa: F821 (nbgrader provides it)

# The course folder `python -m tools.grading course /srv/grading/backprop-lab` writes: source/, the grading
# kernel and gradebook.db. The formgrader starts in the home folder, so it is told where the course is...
c.CourseDirectory.root = "/srv/grading/backprop-lab"
# ...and reads the course's own settings (the grading kernel, which files are the student's work, the sanitising
# steps that keep student code out of the grading kernel). Silently skipped until the course has been written.
load_subconfig("/srv/grading/backprop-lab/nbgrader_config.py")  # noqa: F821 (traitlets provides it)
