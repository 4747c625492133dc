# nbgrader settings shared by every pod of the hub (installed as /etc/jupyter/nbgrader_config.py).
# Role-specific settings are in jupyter-student/ and jupyter-instructor/; a course folder's own
# nbgrader_config.py (written by `python -m tools.grading course`) is read last, from the current folder.
c = get_config()  # noqa: F821 (nbgrader provides it)

# The one course; tools.grading names it after its one assignment (tools.grading.ASSIGNMENT).
c.CourseDirectory.course_id = "backprop-lab"

# The exchange: a ReadWriteMany volume mounted at this path in every pod (config.yaml,
# singleuser.storage.extraVolumeMounts). nbgrader 0.9's default is /usr/local/share/nbgrader/exchange, so it
# is set explicitly; tests/test_z2jh_config.py checks the two paths agree.
c.Exchange.root = "/srv/nbgrader/exchange"

# Every pod runs as the same uid 1000 (jovyan), so the owner of a submission says nothing about who made it and
# `nbgrader collect` would warn about every one. The submitter's name comes from $JUPYTERHUB_USER, which the
# hub sets per pod (README.md, "What the shared exchange does not give").
c.CollectApp.check_owner = False
