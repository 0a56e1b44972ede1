from quixotic.cli.main import main

main()
