from hvcheck.cli import main

main()
