from alerts.runner import main

main()
