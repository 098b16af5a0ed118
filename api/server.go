// Package api is ZCloud's REST API: ZStack's REST contract v1 served by gin.
// Handlers are thin: decode, validate against ZStack's API table, then read
// the store or start a workflow and answer with a job location.
package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/zcloud/zcloud/api/contract"
	"github.com/zcloud/zcloud/models"
	"github.com/zcloud/zcloud/models/store"
)

// Base is the path every ZStack API lives under.
const Base = "/zstack/v1"

// Options configure a Server.
type Options struct {
	Store    *store.Store
	Temporal client.Client
	Logger   *slog.Logger
	// TemporalUIURL is the Temporal Web UI's base URL, for job links; may be empty.
	TemporalUIURL string
	Namespace     string
	// SessionTTL is how long a login session lives (ZStack: 2 h).
	SessionTTL time.Duration
	// PollHold is how long a job poll waits for the job to end before
	// answering 202, so that short jobs finish within the client's first poll.
	PollHold time.Duration
}

// Server serves the API.
type Server struct {
	o      Options
	spec   *contract.Spec
	router router
}

// New builds a server and its route table.
func New(o Options) (*Server, error) {
	if o.SessionTTL == 0 {
		o.SessionTTL = 2 * time.Hour
	}
	if o.PollHold == 0 {
		o.PollHold = 5 * time.Second
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	spec, err := contract.Load()
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, spec: spec}
	if err := s.buildRoutes(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	g := gin.New()
	g.Use(gin.Recovery())
	g.NoRoute(s.dispatch)
	return g
}

// request is what a handler gets: the API, its validated params, the
// caller's session and the raw tags.
type request struct {
	c          *gin.Context
	api        *contract.API
	params     map[string]any
	session    models.Session
	systemTags []string
	userTags   []string
}

type handlerFunc func(s *Server, r *request)

// dispatch routes every request under /zstack/v1.
func (s *Server) dispatch(c *gin.Context) {
	path := c.Request.URL.Path
	if !strings.HasPrefix(path, Base+"/") {
		writeError(c, http.StatusNotFound, models.NotFound("no API at %s", path))
		return
	}
	rel := strings.TrimPrefix(path, Base)
	if segs := splitPath(rel); len(segs) == 2 && segs[0] == "api-jobs" {
		if _, err := s.authenticate(c); err != nil {
			writeError(c, http.StatusUnauthorized, err)
			return
		}
		switch c.Request.Method {
		case http.MethodGet:
			s.pollJob(c, segs[1])
		case http.MethodDelete:
			s.cancelJob(c, segs[1])
		default:
			writeError(c, http.StatusMethodNotAllowed, models.Invalid("only GET and DELETE are allowed on api-jobs"))
		}
		return
	}
	routes := s.router.match(c.Request.Method, rel)
	if len(routes) == 0 {
		writeError(c, http.StatusNotFound, models.NotFound("no API for %s %s", c.Request.Method, rel))
		return
	}
	body, err := readBody(c)
	if err != nil {
		writeError(c, http.StatusBadRequest, err)
		return
	}
	rt := pickRoute(routes, body)
	if rt == nil {
		writeError(c, http.StatusBadRequest, models.Invalid("the body names no action this URL serves"))
		return
	}
	pathParams := rt.pathParams(rel)
	var sess models.Session
	if !publicAPIs[rt.api] {
		if sess, err = s.authenticate(c); err != nil {
			writeError(c, http.StatusUnauthorized, err)
			return
		}
	}
	params := map[string]any{}
	if raw, ok := body[rt.bodyKey]; ok && rt.bodyKey != "" && string(raw) != "null" {
		if err := json.Unmarshal(raw, &params); err != nil {
			writeError(c, http.StatusBadRequest, models.Invalid("[%s] is not a JSON object: %v", rt.bodyKey, err))
			return
		}
	}
	api, _ := s.spec.API(rt.api)
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodDelete {
		for k, v := range c.Request.URL.Query() {
			if k == "q" || len(v) == 0 {
				continue
			}
			params[k] = v[0]
			// A list travels in a query as repeated keys or comma-separated.
			if p, ok := paramOf(api, k); ok && p.Kind() == contract.KindList {
				var list []any
				for _, one := range v {
					for _, item := range strings.Split(one, ",") {
						if item = strings.TrimSpace(item); item != "" {
							list = append(list, item)
						}
					}
				}
				params[k] = list
			}
		}
	}
	for k, v := range pathParams {
		params[k] = v
	}
	r := &request{c: c, params: params, session: sess}
	if r.systemTags, err = tagsOf(body, params, "systemTags"); err == nil {
		r.userTags, err = tagsOf(body, params, "userTags")
	}
	if err != nil {
		writeError(c, http.StatusBadRequest, err)
		return
	}
	delete(params, "systemTags")
	delete(params, "userTags")
	r.api = api
	if api != nil {
		r.params = api.Normalize(params)
		if err := api.Validate(r.params); err != nil {
			writeError(c, http.StatusBadRequest, err)
			return
		}
	}
	rt.serve(s, r)
}

// readBody decodes a POST or PUT body: a JSON object, or nothing (the Go
// SDK sends a literal null for some APIs).
func readBody(c *gin.Context) (map[string]json.RawMessage, error) {
	if c.Request.Method != http.MethodPost && c.Request.Method != http.MethodPut {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request.Body, 8<<20))
	if err != nil {
		return nil, models.Invalid("cannot read body: %v", err)
	}
	var body map[string]json.RawMessage
	if t := strings.TrimSpace(string(raw)); t != "" && t != "null" {
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, models.Invalid("body is not a JSON object: %v", err)
		}
	}
	return body, nil
}

// pickRoute chooses among the routes of one URL by the body's key (several
// actions share PUT .../actions); nil when none matches.
func pickRoute(routes []*route, body map[string]json.RawMessage) *route {
	if len(routes) == 1 {
		return routes[0]
	}
	for _, rt := range routes {
		if _, ok := body[rt.bodyKey]; ok {
			return rt
		}
	}
	return nil
}

// tagsOf reads systemTags or userTags from the top of the body or, as ZStack
// also accepts, from inside the params.
func tagsOf(body map[string]json.RawMessage, params map[string]any, key string) ([]string, error) {
	raw, ok := body[key]
	if !ok {
		if p, ok := params[key].([]any); ok {
			raw, _ = json.Marshal(p)
		}
	}
	var tags []string
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &tags); err != nil {
			return nil, models.Invalid("%s must be a list of strings", key)
		}
	}
	return tags, nil
}

// authenticate checks the OAuth session header.
func (s *Server) authenticate(c *gin.Context) (models.Session, error) {
	h := c.GetHeader("Authorization")
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	switch {
	case h == "":
		return models.Session{}, &models.Error{Kind: models.KindAuth, Code: models.CodeIdentity, Message: "missing header 'Authorization'"}
	case scheme == "OAuth":
		return s.o.Store.Session(c.Request.Context(), strings.TrimSpace(token))
	case scheme == "ZStack":
		return models.Session{}, &models.Error{Kind: models.KindAuth, Code: models.CodeIdentity,
			Message: "not supported: access-key authentication", Details: "log in with an account and use 'Authorization: OAuth <session>'"}
	}
	return models.Session{}, &models.Error{Kind: models.KindAuth, Code: models.CodeIdentity, Message: "unknown authorization scheme " + scheme}
}

// errorBody is ZStack's error shape.
type errorBody struct {
	Code        string     `json:"code"`
	Description string     `json:"description"`
	Details     string     `json:"details,omitempty"`
	Cause       *errorBody `json:"cause,omitempty"`
}

func toErrorBody(e *models.Error) *errorBody {
	b := &errorBody{Code: e.Code, Description: e.Message, Details: e.Details}
	if b.Code == "" {
		b.Code = models.DefaultCode(e.Kind)
	}
	if e.Cause != nil {
		ce := models.AsError(e.Cause)
		if ce != e {
			b.Cause = &errorBody{Code: ce.Code, Description: ce.Error()}
		}
	}
	return b
}

// statusOf is the one place mapping error kinds to HTTP status for
// synchronous replies (failed jobs always answer 503, as ZStack does).
func statusOf(e *models.Error) int {
	switch e.Kind {
	case models.KindInvalid:
		return http.StatusBadRequest
	case models.KindNotFound:
		return http.StatusNotFound
	case models.KindAuth:
		return http.StatusUnauthorized
	case models.KindConflict, models.KindBusy:
		return http.StatusConflict
	case models.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeError(c *gin.Context, status int, err error) {
	e := models.AsError(err)
	if status == 0 {
		status = statusOf(e)
	}
	c.JSON(status, gin.H{"error": toErrorBody(e)})
}

func paramOf(api *contract.API, name string) (*contract.Param, bool) {
	if api == nil {
		return nil, false
	}
	return api.Param(name)
}
