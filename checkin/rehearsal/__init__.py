"""`checkin rehearse`: play an event day against the real HTTP and websocket interfaces, with faults,
keep our own truth from the plan, and compare it figure by figure with what the server reports."""
