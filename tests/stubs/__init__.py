"""Local stand-ins for the network peers the app talks to (tests replace the peer, never our code)."""
