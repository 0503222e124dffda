from creature.cli import main

main()
