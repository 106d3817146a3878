"""``python -m deploy.cli``: the web workers of ``integra up`` start this way."""

from deploy.cli import main

main()
