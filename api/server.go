package api

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed openapi.yaml
var openAPIDocument []byte

// Deps are the API's collaborators.
type Deps struct {
	// Publisher sends commands to the processor. Required.
	Publisher Publisher
	// Reads answers reads from the read model (usually a *Store). Required.
	Reads ReadModel
	// Ready reports whether Kafka and Postgres can be reached; GET /ready answers
	// 503 while it fails. Required.
	Ready func(ctx context.Context) error
	// Registry receives the API's metrics and is served at GET /metrics. Default:
	// a new registry.
	Registry *prometheus.Registry
	// Room serves the waiting rooms: joins, places, admission tokens. nil: the
	// queue routes answer 503.
	Room *RoomDeps
	// Payments enables the payment routes (payment.go); nil answers them 503.
	Payments *Payments
}

// ErrDraining is what Deps.Ready returns once the instance is stopping: GET
// /ready then answers 503 with the code draining, so that load balancers send
// new requests elsewhere while the requests under way finish.
var ErrDraining = errors.New("draining: shutting down")

// server holds what the handlers share.
type server struct {
	cfg     Config
	deps    Deps
	metrics *metrics
	waiters *waiters
	zones   *zoneCache
	keys    *keyLookups
	// inFlight counts the commands being published and sojourn judges how long
	// they stay in flight (see admit).
	inFlight *inFlight
	sojourn  *sojourn
	now      func() time.Time

	room         *RoomDeps // nil without waiting rooms
	roomMetrics  *roomMetrics
	queueWatch   *queueWatch
	buyerLimiter *buyerLimiter // nil: no per-buyer limit
	payments     *paymentState // nil: payments disabled
}

// New validates cfg and returns the HTTP handler of the API. It starts no
// goroutine that outlives a request: the waiters' poller runs only while a submit
// waits.
func New(cfg Config, deps Deps) (http.Handler, error) {
	s, err := newServer(cfg, deps)
	if err != nil {
		return nil, err
	}
	return s.routes(), nil
}

func newServer(cfg Config, deps Deps) (*server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Publisher == nil || deps.Reads == nil || deps.Ready == nil {
		return nil, errors.New("api: Deps.Publisher, Deps.Reads and Deps.Ready are required")
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	cfg = cfg.withDefaults()
	s := &server{cfg: cfg, deps: deps, zones: newZoneCache(deps.Reads, cfg),
		inFlight: &inFlight{max: int64(cfg.InFlightMax)},
		sojourn:  newSojourn(cfg.AdmissionTarget, cfg.AdmissionInterval, time.Now()), now: time.Now}
	s.metrics = newMetrics(deps.Registry, s.inFlight)
	s.waiters = newWaiters(deps.Reads, cfg, s.metrics)
	s.keys = newKeyLookups(deps.Reads, cfg, s.metrics)
	room, err := deps.Room.withDefaults(deps.Reads, cfg.WaitMax)
	if err != nil {
		return nil, err
	}
	s.room, s.roomMetrics = room, newRoomMetrics(deps.Registry)
	if room != nil {
		s.queueWatch = newQueueWatch(room.Reads, room.PollInterval, cfg.QueryTimeout, room.WatchersMax, s.roomMetrics, cfg.Logger)
		s.buyerLimiter = newBuyerLimiter(room.BuyerRateLimit, room.BuyerRateBurst, buyersMax)
	}
	if s.payments, err = newPaymentState(s, deps.Payments); err != nil {
		return nil, err
	}
	return s, nil
}

// routes builds the gin engine. Every route here is documented in openapi.yaml; a
// test checks both directions.
func (s *server) routes() *gin.Engine {
	if os.Getenv(gin.EnvGinMode) == "" {
		// Debug mode prints every route at startup; set GIN_MODE to have it.
		gin.SetMode(gin.ReleaseMode)
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		panic(err) // Validate checked every entry
	}
	e.Use(s.observe, gin.CustomRecovery(s.recovered))
	e.NoRoute(func(c *gin.Context) { s.fail(c, notFound("route_not_found", "no such route")) })
	e.NoMethod(func(c *gin.Context) {
		s.failStatus(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
	})

	e.GET("/health", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	e.GET("/ready", s.ready)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{Registry: s.deps.Registry})))
	e.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openAPIDocument) })

	api := e.Group("/")
	if s.cfg.RateLimit > 0 {
		api.Use(s.rateLimit(newClientLimiter(s.cfg.RateLimit, s.cfg.RateBurst, s.cfg.RateClientsMax)))
	}
	api.POST("/holds", s.placeHold)
	api.POST("/holds/batch", s.placeHolds)
	api.POST("/requests/lookup", s.lookupRequests)
	api.POST("/holds/:id/confirm", s.confirmHold)
	api.DELETE("/holds/:id", s.releaseHold)
	api.GET("/holds/:id", s.getHold)
	api.GET("/orders/:id", s.getOrder)
	api.GET("/requests/:id", s.getRequest)
	api.GET("/events/:id", s.getEvent)
	api.GET("/events/:id/availability", s.getAvailability)
	api.GET("/events/:id/challenge", s.getChallenge)
	api.POST("/events/:id/queue", s.joinQueue)
	api.GET("/queue/:id", s.getQueue)

	admin := api.Group("/", s.requireAdmin)
	admin.POST("/events", s.createEvent)
	admin.PATCH("/events/:id/zones/:zone_id", s.patchZone)
	admin.PATCH("/events/:id", s.patchEvent)
	s.paymentRoutes(e, api, admin)
	return e
}

// observe counts and times every request by route template, so that ids in paths
// do not become label values.
func (s *server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = routeUnmatched
	}
	status := strconv.Itoa(c.Writer.Status())
	s.metrics.requests.WithLabelValues(route, c.Request.Method, status).Inc()
	s.metrics.duration.WithLabelValues(route, c.Request.Method, status).Observe(time.Since(start).Seconds())
}

func (s *server) recovered(c *gin.Context, err any) {
	s.cfg.Logger.Error("api: panic in handler", "route", c.FullPath(), "panic", err)
	s.failStatus(c, http.StatusInternalServerError, "internal", "internal error")
}

func (s *server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.deps.Ready(ctx); err != nil {
		code := "not_ready"
		if errors.Is(err, ErrDraining) {
			code = "draining"
		}
		s.fail(c, unavailable(code, "not ready: "+err.Error(), err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// requireAdmin lets a request through when it carries one of Config.AdminTokens as
// a bearer token. Every token is compared, in constant time, so that the answer's
// timing tells nothing about which bytes matched.
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
		c.Abort()
		return
	}
	c.Next()
}

// fail answers with the typed error err (any other error is internal) mapped to its
// HTTP status; server-side failures are logged with their cause.
func (s *server) fail(c *gin.Context, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Kind: KindInternal, Code: "internal", Message: "internal error", Cause: err}
	}
	status := statusOf(e.Kind)
	if status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", "1")
	}
	if status >= 500 && e.Code != "overloaded" {
		s.cfg.Logger.Error("api: request failed", "route", c.FullPath(), "status", status, "err", e)
	}
	c.AbortWithStatusJSON(status, errorJSON{Error: *errorDetailOf(e)})
}

func (s *server) failStatus(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, errorJSON{Error: errorDetail{Code: code, Message: message}})
}

// queryCtx bounds one read-model query made for the request.
func (s *server) queryCtx(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), s.cfg.QueryTimeout)
}
