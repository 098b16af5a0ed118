package aliyunsim

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// API versions: the Version parameter of an RPC call names the product.
const (
	VersionECS = "2014-05-26"
	VersionVPC = "2016-04-28"
	VersionSTS = "2015-04-01"
)

// apiError is an Alibaba error: HTTP status, Code and Message of the JSON (or OSS XML) body.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(code, what, id string) *apiError {
	return errf(http.StatusNotFound, code, "The specified %s %q does not exist.", what, id)
}

func missing(name string) *apiError {
	return errf(http.StatusBadRequest, "MissingParameter", "%s is mandatory for this action.", name)
}

func invalid(name, value string) *apiError {
	return errf(http.StatusBadRequest, "InvalidParameter", "The specified parameter %q is not valid: %q.", name, value)
}

// obj is a JSON response body.
type obj = map[string]any

// rpcCtx is one authenticated RPC call.
type rpcCtx struct {
	s      *Server
	p      url.Values
	key    AccessKey
	c      *cloud
	now    time.Time
	region string
	host   string
	// after runs once the state lock is released, before the reply: slow
	// work with effects outside the simulator (VPN realization).
	after []func(ctx context.Context) error
}

type rpcHandler func(x *rpcCtx) (obj, error)

func rpcTable() map[string]rpcHandler {
	t := map[string]rpcHandler{}
	add := func(version string, m map[string]rpcHandler) {
		for a, h := range m {
			t[version+"/"+a] = h
		}
	}
	add(VersionSTS, map[string]rpcHandler{"GetCallerIdentity": getCallerIdentity})
	add(VersionECS, ecsHandlers())
	add(VersionVPC, vpcHandlers())
	return t
}

func (x *rpcCtx) str(name string) string { return strings.TrimSpace(x.p.Get(name)) }

func (x *rpcCtx) req(name string) (string, error) {
	v := x.str(name)
	if v == "" {
		return "", missing(name)
	}
	return v, nil
}

func (x *rpcCtx) integer(name string, def int) (int, error) {
	v := x.str(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalid(name, v)
	}
	return n, nil
}

func (x *rpcCtx) boolean(name string) bool {
	b, _ := strconv.ParseBool(x.str(name))
	return b
}

// list reads a flattened list Name.1, Name.2, ... (also Name.1.Field when field is set).
func (x *rpcCtx) list(name, field string) []string {
	var out []string
	for i := 1; ; i++ {
		k := name + "." + strconv.Itoa(i)
		if field != "" {
			k += "." + field
		}
		v, ok := x.p[k]
		if !ok {
			return out
		}
		if len(v) > 0 && strings.TrimSpace(v[0]) != "" {
			out = append(out, strings.TrimSpace(v[0]))
		}
	}
}

// jsonList reads a list given as a JSON array string (InstanceIds=["i-1","i-2"]).
func (x *rpcCtx) jsonList(name string) ([]string, error) {
	v := x.str(name)
	if v == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, invalid(name, v)
	}
	return out, nil
}

// ids reads a list that may be a JSON array, a comma-separated string, or Name.N.
func (x *rpcCtx) ids(name string) ([]string, error) {
	v := x.str(name)
	if strings.HasPrefix(v, "[") {
		return x.jsonList(name)
	}
	if v != "" {
		var out []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return x.list(name, ""), nil
}

// page reads PageNumber/PageSize and returns the window [from, to) of n items.
func (x *rpcCtx) page(n int) (num, size, from, to int, err error) {
	if num, err = x.integer("PageNumber", 1); err != nil {
		return
	}
	if size, err = x.integer("PageSize", 10); err != nil {
		return
	}
	if num < 1 {
		err = invalid("PageNumber", x.str("PageNumber"))
		return
	}
	if size < 1 || size > 100 {
		err = invalid("PageSize", x.str("PageSize"))
		return
	}
	from = min((num-1)*size, n)
	to = min(from+size, n)
	return
}

// token returns the ids an earlier call with the same ClientToken created, if any.
func (x *rpcCtx) token(action string) ([]string, string) {
	t := x.str("ClientToken")
	if t == "" {
		return nil, ""
	}
	k := action + "/" + t
	return x.c.Tokens[k], k
}

func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	host := r.Host
	if err := r.ParseForm(); err != nil {
		writeRPCError(w, reqID, host, errf(http.StatusBadRequest, "InvalidParameter", "malformed request: %v", err))
		return
	}
	action, version := r.Form.Get("Action"), r.Form.Get("Version")
	if action == "" {
		action = r.Header.Get("x-acs-action")
	}
	if version == "" {
		version = r.Header.Get("x-acs-version")
	}
	key, err := s.authenticateRPC(r)
	if err != nil {
		s.log.Debug("aliyunsim rpc rejected", "action", action, "err", err)
		writeRPCError(w, reqID, host, err)
		return
	}
	h, ok := s.rpc[version+"/"+action]
	if !ok {
		writeRPCError(w, reqID, host, errf(http.StatusNotFound, "InvalidAction.NotFound",
			"Specified api is not found, please check your url and method."))
		return
	}
	if err := s.faults.before(r.Context(), action); err != nil {
		writeRPCError(w, reqID, host, err)
		return
	}
	region := r.Form.Get("RegionId")
	if region == "" {
		region = DefaultRegion
	}
	s.mu.Lock()
	now := s.now()
	s.st.settle(now)
	x := &rpcCtx{s: s, p: r.Form, key: key, c: s.st.account(key.AccountID), now: now, region: region, host: host}
	out, err := h(x)
	if err == nil && !readOnly(action) {
		s.changed()
	}
	s.mu.Unlock()
	for _, f := range x.after {
		if err == nil {
			err = f(r.Context())
		}
	}
	if err != nil {
		s.log.Debug("aliyunsim rpc failed", "action", action, "err", err)
		writeRPCError(w, reqID, host, err)
		return
	}
	if out == nil {
		out = obj{}
	}
	out["RequestId"] = reqID
	s.log.Debug("aliyunsim rpc", "action", action, "request_id", reqID)
	writeJSON(w, http.StatusOK, out)
}

func readOnly(action string) bool {
	for _, p := range []string{"Describe", "Get", "List", "Download"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// authenticateRPC verifies an RPC V2 (HMAC-SHA1) request and returns its key.
func (s *Server) authenticateRPC(r *http.Request) (AccessKey, error) {
	if strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-") {
		return AccessKey{}, errf(http.StatusBadRequest, "IncompleteSignature",
			"the ACS3-HMAC-SHA256 (V3) signature is not supported by aliyunsim; use the RPC HMAC-SHA1 signature")
	}
	p := r.Form
	for _, name := range []string{"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp", "Action", "Version"} {
		if p.Get(name) == "" {
			return AccessKey{}, missing(name)
		}
	}
	if m := p.Get("SignatureMethod"); m != "HMAC-SHA1" {
		return AccessKey{}, errf(http.StatusBadRequest, "InvalidParameter", "SignatureMethod %q is not supported.", m)
	}
	if v := p.Get("SignatureVersion"); v != "1.0" {
		return AccessKey{}, errf(http.StatusBadRequest, "InvalidParameter", "SignatureVersion %q is not supported.", v)
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", p.Get("Timestamp"))
	if err != nil {
		return AccessKey{}, errf(http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	}
	if d := s.now().Sub(ts); d > MaxClockSkew || d < -MaxClockSkew {
		return AccessKey{}, errf(http.StatusBadRequest, "InvalidTimeStamp.Expired",
			"Specified time stamp or date value is expired.")
	}
	key, ok := s.key(p.Get("AccessKeyId"))
	if !ok {
		return AccessKey{}, errf(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}
	sts := rpcStringToSign(r.Method, p)
	if !hmac.Equal([]byte(rpcSign(sts, key.Secret)), []byte(p.Get("Signature"))) {
		return AccessKey{}, errf(http.StatusBadRequest, "SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:%s", sts)
	}
	s.mu.Lock()
	fresh := s.st.useNonce(p.Get("SignatureNonce"), s.now())
	s.mu.Unlock()
	if !fresh {
		return AccessKey{}, errf(http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already.")
	}
	return key, nil
}

// percentEncode is Alibaba's RFC 3986 encoding of a query component.
func percentEncode(v string) string {
	e := url.QueryEscape(v)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// rpcStringToSign builds METHOD&%2F&percentEncode(sorted canonical query) over all parameters
// (query and form) except Signature.
func rpcStringToSign(method string, p url.Values) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		for _, v := range p[k] {
			pairs = append(pairs, percentEncode(k)+"="+percentEncode(v))
		}
	}
	return method + "&%2F&" + percentEncode(strings.Join(pairs, "&"))
}

// rpcSign is base64(HMAC-SHA1(secret + "&", stringToSign)).
func rpcSign(stringToSign, secret string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRPCError(w http.ResponseWriter, reqID, host string, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = errf(http.StatusInternalServerError, "InternalError", "%v", err)
	}
	writeJSON(w, e.Status, obj{
		"RequestId": reqID,
		"HostId":    host,
		"Code":      e.Code,
		"Message":   e.Message,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.Code),
	})
}

func getCallerIdentity(x *rpcCtx) (obj, error) {
	return obj{
		"AccountId":    x.key.AccountID,
		"UserId":       x.key.AccountID,
		"PrincipalId":  x.key.AccountID,
		"IdentityType": "Account",
		"Arn":          "acs:ram::" + x.key.AccountID + ":root",
	}, nil
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04Z") }

func isoTimeSec(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
