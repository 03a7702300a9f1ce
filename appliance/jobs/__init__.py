"""The worker process: claims queued jobs, runs each kind's task and the periodic chores."""
