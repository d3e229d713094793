"""`python -m netspec ...` runs the command line."""
from .cli import run

run()
