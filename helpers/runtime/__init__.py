"""How the course code runs: seeding, device choice, headless mode, progress bars, classroom widgets,
input validation and the report hooks. Imports nothing else from :mod:`helpers`."""
