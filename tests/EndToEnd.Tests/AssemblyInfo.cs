// Every class here starts real API and worker processes that train on the same two cores; run the classes one after
// another so the time-bounded checks (takeover within the lease, faults landing mid-run) measure the service, not contention.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
