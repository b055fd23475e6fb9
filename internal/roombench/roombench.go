// Package roombench is the flash-crowd scenario of `make bench`: N buyers join an
// event's waiting room around the start of the sale and try to buy from a zone of
// M tickets. It measures the time to sell out, the wait from join to admission
// (p50, p99), how closely admissions follow the configured rate, how fast waiting
// buyers hear that it is sold out, and checks that nothing was oversold.
package roombench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Defaults of Config.
const (
	JoinersDefault       = 2000
	TicketsDefault       = 500
	RateDefault          = 50.0
	AllowanceDefault     = 2
	StartAfterDefault    = 5 * time.Second
	JoinSpreadDefault    = 10 * time.Second
	DifficultyDefault    = 8
	TimeoutDefault       = 5 * time.Minute
	ShopSecondsDefault   = 60
	PartitionsDefault    = 6
	soldOutNoticeMaxWait = 5 * time.Second // the bound, reported against
)

// Config is one flash crowd.
type Config struct {
	// Out is the directory for results.json, room.md and room.png.
	Out string
	// Joiners is N, the buyers; Tickets is M, the zone's capacity.
	Joiners, Tickets int
	// Rate is the admissions per second of the room; with Automatic, the cap of
	// the automatic rate (admit while what admitted buyers may still buy is below
	// the tickets left).
	Rate      float64
	Automatic bool
	// Allowance is the tickets one admission allows; buyer i asks for
	// 1 + i % Allowance.
	Allowance int
	// StartAfter is when the sale starts after the room opens; JoinSpread is how
	// long the joiners take to arrive (evenly): those before the start are the
	// pre-queue.
	StartAfter, JoinSpread time.Duration
	// Difficulty is the proof of work of joins (leading zero bits).
	Difficulty int
	// Timeout bounds the sale.
	Timeout time.Duration
	// Log receives progress; nil for none.
	Log io.Writer
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Joiners, JoinersDefault)
	def(&c.Tickets, TicketsDefault)
	def(&c.Allowance, AllowanceDefault)
	def(&c.Difficulty, DifficultyDefault)
	if c.Rate == 0 {
		c.Rate = RateDefault
	}
	if c.StartAfter == 0 {
		c.StartAfter = StartAfterDefault
	}
	if c.JoinSpread == 0 {
		c.JoinSpread = JoinSpreadDefault
	}
	if c.Timeout == 0 {
		c.Timeout = TimeoutDefault
	}
	return c
}

// Validate rejects a crowd that cannot run.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Out == "" {
		errs = append(errs, errors.New("roombench: Out is required"))
	}
	if c.Joiners < 1 || c.Joiners > 100_000 {
		errs = append(errs, fmt.Errorf("roombench: Joiners %d outside 1..100000", c.Joiners))
	}
	if c.Tickets < 1 || c.Allowance < 1 || c.Allowance > 100 || c.Rate <= 0 || c.Rate > 10_000 {
		errs = append(errs, errors.New("roombench: Tickets >= 1, Allowance 1..100 and Rate in (0, 10000] are required"))
	}
	return errors.Join(errs...)
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Run starts Kafka and Postgres in Docker and ticketd in-process, runs the crowd
// and writes the results to cfg.Out.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	sys, err := startSystem(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer sys.stop()
	res, err := runCrowd(ctx, cfg, sys)
	if err != nil {
		return res, err
	}
	return res, res.Write(cfg.Out)
}
