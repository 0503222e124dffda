from creature.entry import main

main()
