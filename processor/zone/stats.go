package zone

// Stats counts one partition's state, for metrics.
type Stats struct {
	Zones         int
	ActiveHolds   int
	ResolvedHolds int
	Keys          int
	// KeysEvictedEarly counts keys forgotten before their retention because KeysMax
	// was reached, each once the read model had it (SetSunkThrough).
	KeysEvictedEarly int64
	// KeysRejectedFull counts commands with a new key rejected with
	// ReasonPartitionFull because KeysMax keys were remembered and the oldest was
	// not yet known to be in the read model.
	KeysRejectedFull int64
	// ResolvedEvictedEarly counts resolved holds forgotten before their retention
	// because ResolvedHoldsMax was reached.
	ResolvedEvictedEarly int64
}

// Stats returns the counts of the state.
func (s *State) Stats() Stats {
	return Stats{
		Zones:                len(s.zones),
		ActiveHolds:          s.active,
		ResolvedHolds:        s.resolvedFIFO.len(),
		Keys:                 s.keys.len(),
		KeysEvictedEarly:     s.keysEvictedEarly,
		KeysRejectedFull:     s.keysRejectedFull,
		ResolvedEvictedEarly: s.resolvedEvictedEarly,
	}
}
