// Package apitest is a client of ZCloud's REST API that behaves on the wire
// exactly as ZStack's Go SDK (terraform-zstack-modules/zstack-sdk-go) does:
// SHA-512 login, OAuth + X-Session-Id headers, zero values in params, job
// locations rebuilt on the client's own host:port from "/zstack/v1/api-jobs",
// polling until a non-202, GET-by-uuid expecting exactly one inventory, and
// ListAll paging with limit=50 + replyWithCount. Tests use it as the SDK's
// stand-in, since the SDK module is not served by our Go proxy.
package apitest

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one ZCloud API endpoint.
type Client struct {
	Base      string // http://host:port
	Session   string
	HTTP      *http.Client
	PollEvery time.Duration
}

// New returns a client of http://addr.
func New(addr string) *Client {
	return &Client{Base: "http://" + addr, HTTP: &http.Client{Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, PollEvery: 100 * time.Millisecond}
}

// APIError is a failed call: the HTTP status and ZStack's error body.
type APIError struct {
	Status int
	Code   string `json:"code"`
	Desc   string `json:"description"`
	Detail string `json:"details"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("status %d: %s: %s: %s", e.Status, e.Code, e.Desc, e.Detail)
}

func (c *Client) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.Base + "/zstack/" + strings.TrimPrefix(path, "/")
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept-Encoding", "*")
	if c.Session != "" {
		req.Header.Set("Authorization", "OAuth "+c.Session)
		req.Header.Set("X-Session-Id", c.Session)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode < 300 && len(bytes.TrimSpace(b)) == 0 {
		return resp.StatusCode, nil, fmt.Errorf("empty 2xx body from %s %s (the SDK would crash)", method, path)
	}
	return resp.StatusCode, b, nil
}

func apiError(status int, b []byte) error {
	var e struct {
		Error APIError `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	e.Error.Status = status
	return &e.Error
}

// Login logs in as an account, as the SDK does.
func (c *Client) Login(account, password string) error {
	h := sha512.Sum512([]byte(password))
	st, b, err := c.do(http.MethodPut, "v1/accounts/login", map[string]any{"logInByAccount": map[string]any{"accountName": account, "password": hex.EncodeToString(h[:])}})
	if err != nil {
		return err
	}
	if st >= 300 {
		return apiError(st, b)
	}
	var r struct {
		Inventory struct{ UUID string } `json:"inventory"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	c.Session = r.Inventory.UUID
	return nil
}

// Call sends a mutation and, if answered with a job location, polls it to
// the end. It returns the final body.
func (c *Client) Call(method, path string, body any) (map[string]json.RawMessage, error) {
	st, b, err := c.do(method, path, body)
	if err != nil {
		return nil, err
	}
	if st >= 300 {
		return nil, apiError(st, b)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	loc, ok := m["location"]
	if !ok {
		return m, nil
	}
	var l string
	_ = json.Unmarshal(loc, &l)
	// The SDK rebuilds the location on its own host:port.
	parts := strings.SplitN(l, "/zstack/v1/api-jobs", 2)
	if len(parts) != 2 {
		return nil, fmt.Errorf("location %q lacks /zstack/v1/api-jobs", l)
	}
	poll := c.Base + "/zstack/v1/api-jobs" + parts[1]
	for i := 0; i < 1800; i++ {
		st, b, err := c.do(http.MethodGet, poll, nil)
		if err != nil {
			return nil, err
		}
		switch st {
		case http.StatusAccepted:
			time.Sleep(c.PollEvery)
			continue
		case http.StatusOK:
			var out map[string]json.RawMessage
			return out, json.Unmarshal(b, &out)
		default:
			return nil, apiError(st, b)
		}
	}
	return nil, fmt.Errorf("job %s did not end", poll)
}

// Create POSTs {"params":...} and returns the inventory's JSON.
func (c *Client) Create(path string, params map[string]any, systemTags ...string) (map[string]any, error) {
	body := map[string]any{"params": params}
	if len(systemTags) > 0 {
		body["systemTags"] = systemTags
	}
	return c.inventory(c.Call(http.MethodPost, "v1/"+path, body))
}

// Action PUTs {"<key>":params} on /<res>/<uuid>/actions.
func (c *Client) Action(res, uuid, key string, params map[string]any) (map[string]any, error) {
	return c.inventory(c.Call(http.MethodPut, "v1/"+res+"/"+uuid+"/actions", map[string]any{key: params}))
}

// Delete deletes with ?deleteMode=Permissive.
func (c *Client) Delete(res, uuid string) error {
	_, err := c.Call(http.MethodDelete, "v1/"+res+"/"+uuid+"?deleteMode=Permissive", nil)
	return err
}

func (c *Client) inventory(m map[string]json.RawMessage, err error) (map[string]any, error) {
	if err != nil {
		return nil, err
	}
	var inv map[string]any
	if raw, ok := m["inventory"]; ok {
		err = json.Unmarshal(raw, &inv)
	}
	return inv, err
}

// Get reads one resource as the SDK does (v1/<res>//<uuid>, exactly one
// inventory expected).
func (c *Client) Get(res, uuid string) (map[string]any, error) {
	st, b, err := c.do(http.MethodGet, "v1/"+res+"//"+uuid, nil)
	if err != nil {
		return nil, err
	}
	if st >= 300 {
		return nil, apiError(st, b)
	}
	var r struct {
		Inventories []map[string]any `json:"inventories"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if len(r.Inventories) != 1 {
		return nil, fmt.Errorf("get %s/%s: %d inventories, want 1", res, uuid, len(r.Inventories))
	}
	return r.Inventories[0], nil
}

// Query runs one query with raw q= conditions and returns inventories and
// total.
func (c *Client) Query(res string, params url.Values) ([]map[string]any, int, error) {
	st, b, err := c.do(http.MethodGet, "v1/"+res+"?"+params.Encode(), nil)
	if err != nil {
		return nil, 0, err
	}
	if st >= 300 {
		return nil, 0, apiError(st, b)
	}
	var r struct {
		Inventories []map[string]any `json:"inventories"`
		Total       json.Number      `json:"total"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, 0, err
	}
	n, _ := r.Total.Int64()
	return r.Inventories, int(n), nil
}

// ListAll pages through a resource as the SDK's ListAll does.
func (c *Client) ListAll(res string, conds ...string) ([]map[string]any, error) {
	var all []map[string]any
	for start := 0; ; start += 50 {
		v := url.Values{"start": {fmt.Sprint(start)}, "limit": {"50"}, "replyWithCount": {"true"}}
		for _, q := range conds {
			v.Add("q", q)
		}
		page, total, err := c.Query(res, v)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if start+50 >= total || len(page) == 0 {
			return all, nil
		}
		if start > 100000 {
			return nil, fmt.Errorf("paging never ends")
		}
	}
}
