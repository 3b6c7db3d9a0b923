from citebot.bot.cli import main

main()
