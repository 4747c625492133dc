# Students (JUPYTER_CONFIG_PATH=/etc/backprop-lab/jupyter-student, the image's default).
c = get_config()  # noqa: F821 (nbgrader provides it)

# Nothing beyond the shared settings (../nbgrader_config.py): assignments are fetched into the home, as
# ~/backprop-lab, beside the practice workspace ~/backprop-lab-workspace, as in the tested recipe (tools/hub).
