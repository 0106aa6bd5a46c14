"""`python -m llmprep` entry point (imports stay inside main() so start-up is cheap)."""


def main() -> None:
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
