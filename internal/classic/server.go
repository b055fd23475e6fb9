package classic

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// server holds what the handlers share.
type server struct {
	cfg  Config
	pool *pgxpool.Pool
	// inFlight has a slot for each request allowed to use Postgres at once.
	inFlight chan struct{}
}

// New validates cfg and returns the HTTP handler of the classic server, on pool.
// The schema must exist (EnsureSchema).
func New(cfg Config, pool *pgxpool.Pool) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errors.New("classic: a pool is required")
	}
	cfg = cfg.withDefaults()
	s := &server{cfg: cfg, pool: pool, inFlight: make(chan struct{}, cfg.InFlightMax)}
	return s.routes(), nil
}

func (s *server) routes() *gin.Engine {
	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	e.Use(gin.CustomRecovery(s.recovered))
	e.NoRoute(func(c *gin.Context) { s.fail(c, newError(KindNotFound, "route_not_found", "no such route")) })
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, errorJSON{Error: errorDetail{
			Code: "method_not_allowed", Message: "method not allowed on this route"}})
	})

	e.GET("/health", s.ready)
	e.GET("/ready", s.ready)
	db := e.Group("/", s.admit)
	db.POST("/holds", s.placeHold)
	db.POST("/holds/batch", s.placeHolds)
	db.GET("/holds/:id", s.getHold)
	db.GET("/events/:id/availability", s.getAvailability)
	db.POST("/events", s.requireAdmin, s.createEvent)
	return e
}

// admit lets a request use Postgres when one of Config.InFlightMax slots is free,
// and answers 503 with Retry-After at once otherwise: past what the database can
// carry, a fast refusal beats a queue that grows until clients time out.
func (s *server) admit(c *gin.Context) {
	select {
	case s.inFlight <- struct{}{}:
	default:
		s.fail(c, errOverloaded)
		return
	}
	defer func() { <-s.inFlight }()
	c.Next()
}

// requireAdmin lets a request through when it carries one of Config.AdminTokens as
// a bearer token, compared in constant time.
func (s *server) requireAdmin(c *gin.Context) {
	scheme, token, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	token = strings.TrimSpace(token)
	match := 0
	if strings.EqualFold(scheme, "Bearer") && token != "" {
		for _, t := range s.cfg.AdminTokens {
			match |= subtle.ConstantTimeCompare([]byte(token), []byte(t))
		}
	}
	if match != 1 {
		c.Header("WWW-Authenticate", `Bearer realm="ultimate-ticket admin"`)
		s.fail(c, newError(KindUnauthorized, "unauthorized", "a valid admin bearer token is required"))
		return
	}
	c.Next()
}

func (s *server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		s.fail(c, unavailable("not_ready", "not ready: the database does not answer", err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (s *server) recovered(c *gin.Context, err any) {
	s.cfg.Logger.Error("classic: panic in handler", "route", c.FullPath(), "panic", err)
	c.AbortWithStatusJSON(http.StatusInternalServerError, errorJSON{Error: errorDetail{Code: "internal", Message: "internal error"}})
}

// fail answers with the typed error err (a database failure is 503, any other
// error internal) mapped to its HTTP status; server-side failures are logged.
func (s *server) fail(c *gin.Context, err error) {
	e := s.typed(err)
	status := statusOf(e.Kind)
	if status >= 500 && e != errOverloaded {
		s.cfg.Logger.Error("classic: request failed", "route", c.FullPath(), "status", status, "err", e)
	}
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "1")
	}
	c.AbortWithStatusJSON(status, errorJSON{Error: *errorDetailOf(e)})
}

// typed is err as an *Error: the decisions are, and anything else is a failure of
// the database (or of the request's context).
func (s *server) typed(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return databaseError(err)
}

// queryCtx bounds the database work of a request.
func (s *server) queryCtx(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), s.cfg.QueryTimeout)
}

func (s *server) createEvent(c *gin.Context) {
	body, bad := readBody(c, s.cfg.BodyBytesMax)
	var b eventBody
	if bad == nil {
		bad = decodeStrict(body, &b)
	}
	var name string
	var zones []newZone
	if bad == nil {
		name, zones, bad = b.check()
	}
	if bad != nil {
		s.fail(c, bad)
		return
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	eventID := uuid.Must(uuid.NewV7())
	if err := createEvent(ctx, s.pool, eventID, name, zones); err != nil {
		s.fail(c, err)
		return
	}
	out := createdEventJSON{EventID: eventID, Status: statusSucceeded, Zones: make([]createdZoneJSON, 0, len(zones))}
	for _, z := range zones {
		out.Zones = append(out.Zones, createdZoneJSON{ID: z.ID, Name: z.Name, RequestID: uuid.Must(uuid.NewV7()), Status: statusSucceeded})
	}
	c.Header("Location", "/events/"+eventID.String())
	c.JSON(http.StatusCreated, out)
}

func (s *server) getAvailability(c *gin.Context) {
	id, bad := parseID(c.Param("id"), "event id")
	if bad != nil {
		s.fail(c, bad)
		return
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	zones, err := eventZones(ctx, s.pool, id)
	if errors.Is(err, pgx.ErrNoRows) {
		s.fail(c, errEventNotFound)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	now := time.Now().UTC()
	out := availabilityJSON{EventID: id, Zones: make([]zoneAvailabilityJSON, 0, len(zones))}
	for _, z := range zones {
		out.Zones = append(out.Zones, zoneAvailabilityJSON{ZoneID: z.ID, Name: z.Name, Capacity: z.Capacity,
			Available: z.Available, Held: z.Held, Sold: z.Sold, AsOf: now})
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) getHold(c *gin.Context) {
	id, bad := parseID(c.Param("id"), "hold id")
	if bad != nil {
		s.fail(c, bad)
		return
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	h, err := readHold(ctx, s.pool, id)
	if errors.Is(err, pgx.ErrNoRows) {
		s.fail(c, errHoldNotFound)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toHoldJSON(&h))
}
