from lineal.cli import main

main()
