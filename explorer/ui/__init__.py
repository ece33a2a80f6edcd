"""Qt views of CNN Explorer: thin widgets that call explorer.core and draw."""
