"""Thin HTTP and websocket endpoints: parse, call the domain, render."""
