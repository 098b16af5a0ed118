package aliyunsim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// ossSubResources are the query parameters OSS V1 signatures include (the OSS SDK's list).
var ossSubResources = []string{"acl", "uploads", "location", "cors", "logging", "website", "referer",
	"lifecycle", "delete", "append", "tagging", "objectMeta", "uploadId", "partNumber", "security-token",
	"position", "img", "style", "styleName", "replication", "replicationProgress", "replicationLocation",
	"cname", "bucketInfo", "comp", "qos", "live", "status", "vod", "startTime", "endTime", "symlink",
	"x-oss-process", "response-content-type", "x-oss-traffic-limit", "response-content-language",
	"response-expires", "response-cache-control", "response-content-disposition", "response-content-encoding",
	"udf", "udfName", "udfImage", "udfId", "udfImageDesc", "udfApplication", "udfApplicationLog", "restore",
	"callback", "callback-var", "qosInfo", "policy", "stat", "encryption", "versions", "versioning", "versionId",
	"requestPayment", "x-oss-request-payer", "sequential", "inventory", "inventoryId", "continuation-token",
	"asyncFetch", "worm", "wormId", "wormExtend", "withHashContext", "x-oss-enable-md5", "x-oss-enable-sha1",
	"x-oss-enable-sha256", "x-oss-hash-ctx", "x-oss-md5-ctx", "transferAcceleration", "regionList", "cloudboxes",
	"x-oss-ac-source-ip", "x-oss-ac-subnet-mask", "x-oss-ac-vpc-id", "x-oss-ac-forward-allow", "metaQuery",
	"resourceGroup", "rtc", "x-oss-async-process", "responseHeader"}

// queryPairs splits a raw query into decoded key/value pairs, keeping keys without "=".
type queryPair struct {
	k, v   string
	hasVal bool
}

func queryPairs(raw string) []queryPair {
	var out []queryPair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, has := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			dk = k
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			dv = v
		}
		out = append(out, queryPair{dk, dv, has})
	}
	return out
}

func ossEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// ossErr is an OSS authentication error.
func ossErr(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

// authenticateOSS verifies an OSS V1 ("OSS ak:sig") or V4 ("OSS4-HMAC-SHA256 ...") signature.
func (s *Server) authenticateOSS(r *http.Request, bucket, object string) (AccessKey, error) {
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		return AccessKey{}, ossErr(http.StatusForbidden, "AccessDenied", "AccessDenied: anonymous access is not allowed by aliyunsim.")
	case strings.HasPrefix(auth, "OSS4-HMAC-SHA256 "):
		return s.authOSSV4(r, bucket, object, strings.TrimPrefix(auth, "OSS4-HMAC-SHA256 "))
	case strings.HasPrefix(auth, "OSS "):
		return s.authOSSV1(r, bucket, object, strings.TrimPrefix(auth, "OSS "))
	default:
		return AccessKey{}, ossErr(http.StatusBadRequest, "InvalidArgument", "Authorization header is invalid (only OSS V1 and V4 are supported).")
	}
}

func (s *Server) checkOSSDate(r *http.Request) (time.Time, error) {
	var t time.Time
	var err error
	if d := r.Header.Get("x-oss-date"); d != "" {
		t, err = time.Parse("20060102T150405Z", d)
	} else {
		t, err = http.ParseTime(r.Header.Get("Date"))
	}
	if err != nil {
		return t, ossErr(http.StatusForbidden, "AccessDenied", "OSS authentication requires a valid Date.")
	}
	if d := s.now().Sub(t); d > MaxClockSkew || d < -MaxClockSkew {
		return t, ossErr(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
	}
	return t, nil
}

func (s *Server) ossKey(id string) (AccessKey, error) {
	k, ok := s.key(id)
	if !ok {
		return k, ossErr(http.StatusForbidden, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.")
	}
	return k, nil
}

func (s *Server) authOSSV1(r *http.Request, bucket, object, cred string) (AccessKey, error) {
	id, sig, ok := strings.Cut(cred, ":")
	if !ok {
		return AccessKey{}, ossErr(http.StatusBadRequest, "InvalidArgument", "Authorization header is invalid.")
	}
	if _, err := s.checkOSSDate(r); err != nil {
		return AccessKey{}, err
	}
	key, err := s.ossKey(id)
	if err != nil {
		return key, err
	}
	var hdrs []string
	for k, v := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-") {
			hdrs = append(hdrs, lk+":"+v[0]+"\n")
		}
	}
	sort.Strings(hdrs)
	resource := "/"
	if bucket != "" {
		resource = "/" + bucket + "/" + object
	}
	var subs []string
	for _, p := range queryPairs(r.URL.RawQuery) {
		if slices.Contains(ossSubResources, p.k) {
			if p.v != "" {
				subs = append(subs, p.k+"="+p.v)
			} else {
				subs = append(subs, p.k)
			}
		}
	}
	sort.Strings(subs)
	if len(subs) > 0 {
		resource += "?" + strings.Join(subs, "&")
	}
	sts := r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" +
		r.Header.Get("Date") + "\n" + strings.Join(hdrs, "") + resource
	m := hmac.New(sha1.New, []byte(key.Secret))
	m.Write([]byte(sts))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(m.Sum(nil))), []byte(sig)) {
		return AccessKey{}, ossErr(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. StringToSign: "+sts)
	}
	return key, nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func (s *Server) authOSSV4(r *http.Request, bucket, object, rest string) (AccessKey, error) {
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[3] != "oss" || scope[4] != "aliyun_v4_request" || fields["Signature"] == "" {
		return AccessKey{}, ossErr(http.StatusBadRequest, "InvalidArgument", "Authorization header is invalid.")
	}
	t, err := s.checkOSSDate(r)
	if err != nil {
		return AccessKey{}, err
	}
	if t.UTC().Format("20060102") != scope[1] {
		return AccessKey{}, ossErr(http.StatusForbidden, "SignatureDoesNotMatch", "The credential date does not match the request date.")
	}
	key, err := s.ossKey(scope[0])
	if err != nil {
		return key, err
	}
	var additional []string
	if a := fields["AdditionalHeaders"]; a != "" {
		additional = strings.Split(a, ";")
	}
	var hdrs []string
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		if lk == "content-md5" || lk == "content-type" || strings.HasPrefix(lk, "x-oss-") || slices.Contains(additional, lk) {
			hdrs = append(hdrs, lk+":"+strings.TrimSpace(v[0])+"\n")
		}
	}
	sort.Strings(hdrs)
	resource := "/"
	if bucket != "" {
		resource = "/" + bucket + "/" + strings.ReplaceAll(ossEscape(object), "%2F", "/")
	}
	var qs []string
	for _, p := range queryPairs(r.URL.RawQuery) {
		if p.v != "" {
			qs = append(qs, ossEscape(p.k)+"="+ossEscape(p.v))
		} else {
			qs = append(qs, ossEscape(p.k))
		}
	}
	sort.Strings(qs)
	payload := r.Header.Get("x-oss-content-sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	canonical := r.Method + "\n" + resource + "\n" + strings.Join(qs, "&") + "\n" + strings.Join(hdrs, "") + "\n" +
		strings.Join(additional, ";") + "\n" + payload
	sum := sha256.Sum256([]byte(canonical))
	date := r.Header.Get("x-oss-date")
	if date == "" {
		date = r.Header.Get("Date")
	}
	sts := "OSS4-HMAC-SHA256\n" + date + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("aliyun_v4"+key.Secret), scope[1])
	k = hmacSHA256(k, scope[2])
	k = hmacSHA256(k, "oss")
	k = hmacSHA256(k, "aliyun_v4_request")
	if !hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(k, sts))), []byte(fields["Signature"])) {
		return AccessKey{}, ossErr(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. CanonicalRequest: "+canonical)
	}
	return key, nil
}
