package zone

import "github.com/ultimate-ticket/ultimate-ticket/topics"

// header fills the fields every answering outcome carries.
func (s *State) header(cmd *topics.Command, typ topics.OutcomeType, z *zone) topics.Outcome {
	ev := topics.Outcome{
		Version:        topics.SchemaVersion,
		Type:           typ,
		Time:           unixTime(s.clock),
		EventID:        cmd.EventID,
		ZoneID:         cmd.ZoneID,
		RequestID:      cmd.RequestID,
		IdempotencyKey: cmd.IdempotencyKey,
		CommandType:    cmd.Type,
	}
	if z != nil {
		ev.EventID = z.eventID
		ev.Zone = z.inventory()
	}
	return ev
}

func (s *State) rejectOutcome(cmd *topics.Command, z *zone, reason topics.Reason, msg string, available int64) topics.Outcome {
	ev := s.header(cmd, topics.OutRequestRejected, z)
	ev.Rejection = s.outRejections.new(topics.Rejection{Reason: reason, Message: msg, Available: available})
	return ev
}

func (s *State) replayOutcome(cmd *topics.Command, k *keyEntry) topics.Outcome {
	ev := s.header(cmd, topics.OutRequestReplayed, s.zones[cmd.ZoneID])
	r := topics.Replay{OriginalRequestID: k.requestID, OriginalType: k.outType, HoldID: k.holdID, OrderID: k.orderID}
	if k.outType == topics.OutRequestRejected || k.outType == topics.OutPaymentRefundRequired {
		r.Rejection = s.outRejections.new(topics.Rejection{
			Reason: k.reason, Message: k.message, Available: k.available,
		})
	}
	ev.Replay = s.outReplays.new(r)
	return ev
}

func (s *State) outcomeOf(cmd *topics.Command, o *decision) topics.Outcome {
	ev := s.header(cmd, o.typ, o.zone)
	switch o.typ {
	case topics.OutRequestRejected:
		ev.Rejection = s.outRejections.new(topics.Rejection{Reason: o.reason, Message: o.message, Available: o.available})
	case topics.OutZoneConfigured:
		z := o.zone
		ev.Config = &topics.ZoneConfig{
			EventName: z.eventName, ZoneName: z.zoneName, Capacity: z.capacity,
			HoldTTLSeconds: int64(z.ttl / 1e9), HoldQuantityMax: z.holdQuantityMax,
			CustomerLimit: z.customerLimit, WaitingRoom: z.waitingRoom, Created: o.created, PriceMinor: z.priceMinor, Currency: z.currency,
		}
	case topics.OutHoldPlaced, topics.OutHoldReleased:
		ev.Hold = s.holdView(o.hold)
	case topics.OutHoldConfirmed:
		h := o.hold
		ev.Hold = s.holdView(h)
		ev.Order = s.outOrders.new(topics.Order{
			ID: h.orderID, HoldID: h.id, Quantity: h.qty, CustomerID: h.customer, CreatedAt: unixTime(h.resolvedAt),
		})
		if p := cmd.Confirm.Payment; p != nil {
			ev.Payment = new(*p)
		}
	default:
		s.paymentOutcome(&ev, cmd, o)
	}
	return ev
}

func (s *State) holdView(h *hold) *topics.Hold {
	return s.outHolds.new(topics.Hold{
		ID: h.id, Status: holdStatusNames[h.status], Quantity: h.qty, CustomerID: h.customer,
		CreatedAt: unixTime(h.createdAt), ExpiresAt: unixTime(h.expiresAt),
	})
}
