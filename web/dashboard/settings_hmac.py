"""Secure mode's `user_hash`, made on the customer's server, in the languages most used there.

Each example signs the same identifier the snippet sends (the `user_id`, or else the email)
with the app's secret as it is written (its text, not decoded from hex), HMAC-SHA256, as hex:
what domain/app.py's `user_hash` checks. Each reads the secret from the environment variable
`PARLEY_SECRET`, so it never sits in the page's source or in the customer's repository.
"""

from __future__ import annotations

EXAMPLES: tuple[tuple[str, str, str], ...] = (
    (
        "ruby",
        "Ruby",
        """require "openssl"

user_hash = OpenSSL::HMAC.hexdigest("sha256", ENV.fetch("PARLEY_SECRET"), current_user.id.to_s)""",
    ),
    (
        "python",
        "Python",
        """import hashlib
import hmac
import os

user_hash = hmac.new(
    os.environ["PARLEY_SECRET"].encode(), str(user.id).encode(), hashlib.sha256
).hexdigest()""",
    ),
    (
        "php",
        "PHP",
        """<?php
$user_hash = hash_hmac('sha256', (string) $user->id, getenv('PARLEY_SECRET'));""",
    ),
    (
        "node",
        "Node.js",
        """const crypto = require("crypto");

const userHash = crypto
  .createHmac("sha256", process.env.PARLEY_SECRET)
  .update(String(user.id))
  .digest("hex");""",
    ),
    (
        "java",
        "Java",
        """import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

byte[] secret = System.getenv("PARLEY_SECRET").getBytes(StandardCharsets.UTF_8);
Mac mac = Mac.getInstance("HmacSHA256");
mac.init(new SecretKeySpec(secret, "HmacSHA256"));
String userHash = HexFormat.of().formatHex(
    mac.doFinal(String.valueOf(user.getId()).getBytes(StandardCharsets.UTF_8)));""",
    ),
    (
        "go",
        "Go",
        """import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
)

// userID: the user_id the snippet sends, as a string (strconv.Itoa for an int)
mac := hmac.New(sha256.New, []byte(os.Getenv("PARLEY_SECRET")))
mac.Write([]byte(userID))
userHash := hex.EncodeToString(mac.Sum(nil))""",
    ),
)
