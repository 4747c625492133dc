# Students (JUPYTER_CONFIG_PATH=/etc/backprop-lab/jupyter-student, the image's default).
c = get_config()  # noqa: F821 (nbgrader provides it)

# Assignments fetched from the exchange go to ~/graded/<assignment>, not the home folder itself: the home
# already holds ~/backprop-lab, the practice workspace the postStart hook keeps up to date, and nbgrader's fetch
# refuses to write over an existing folder of the assignment's name. The hook creates ~/graded.
c.Exchange.assignment_dir = "/home/jovyan/graded"
