// Security keys and passkeys on zitui's hosted pages (WebAuthn).
//
// A form marked data-webauthn="create" or "get" carries the server's options as JSON in
// data-options and two hidden inputs, "credential" and "client_error". Submitting it runs the
// browser's ceremony and posts the answer (RegistrationResponseJSON or
// AuthenticationResponseJSON), or the name of the DOMException when the browser refused, so
// the server can say why. A form marked data-webauthn="conditional" offers passkeys in the
// login name field's autofill and posts one when the user picks it. Elements marked
// data-webauthn-only are hidden in browsers without WebAuthn.
//
// Served from /static under "script-src 'self'": no inline script, no eval, no dependency.
"use strict";

(() => {
  const supported = typeof window.PublicKeyCredential === "function";
  let conditional = null; // the AbortController of a pending autofill request
  let busy = false;

  // --- base64url ---------------------------------------------------------------------------

  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };

  const toText = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  // --- options from JSON ---------------------------------------------------------------------

  const descriptors = (list) =>
    (list || []).map((d) => Object.assign({}, d, { id: toBytes(d.id) }));

  const creationOptions = (json) => {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  };

  const requestOptions = (json) => {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  };

  // --- the answer as JSON --------------------------------------------------------------------

  const optional = (object, method) =>
    typeof object[method] === "function" ? object[method]() : undefined;

  const responseJSON = (response) => {
    const out = { clientDataJSON: toText(response.clientDataJSON) };
    if (response.attestationObject) {
      out.attestationObject = toText(response.attestationObject);
      out.transports = optional(response, "getTransports") || [];
      const data = optional(response, "getAuthenticatorData");
      if (data) out.authenticatorData = toText(data);
      const key = optional(response, "getPublicKey");
      if (key) out.publicKey = toText(key);
      const algorithm = optional(response, "getPublicKeyAlgorithm");
      if (algorithm !== undefined) out.publicKeyAlgorithm = algorithm;
    } else {
      out.authenticatorData = toText(response.authenticatorData);
      out.signature = toText(response.signature);
      if (response.userHandle) out.userHandle = toText(response.userHandle);
    }
    return out;
  };

  const credentialJSON = (credential) => {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: optional(credential, "getClientExtensionResults") || {},
      response: responseJSON(credential.response),
    };
  };

  // --- posting -------------------------------------------------------------------------------

  const field = (form, name) => {
    let input = form.querySelector(`input[name="${name}"]`);
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    return input;
  };

  const post = (form, credential, error) => {
    field(form, "credential").value = credential ? JSON.stringify(credentialJSON(credential)) : "";
    field(form, "client_error").value = credential ? "" : error;
    // Native submit: no second submit event, so this script does not run again.
    HTMLFormElement.prototype.submit.call(form);
  };

  const errorName = (error) =>
    error && typeof error.name === "string" && error.name ? error.name : "UnknownError";

  const options = (form) => JSON.parse(form.getAttribute("data-options") || "");

  // --- ceremonies ----------------------------------------------------------------------------

  const ceremony = async (form, mode) => {
    if (!supported) return post(form, null, "NotSupportedError");
    if (conditional) conditional.abort(); // one WebAuthn request at a time
    let credential = null;
    try {
      const json = options(form);
      credential =
        mode === "create"
          ? await navigator.credentials.create({ publicKey: creationOptions(json) })
          : await navigator.credentials.get({ publicKey: requestOptions(json) });
    } catch (error) {
      return post(form, null, errorName(error));
    }
    return credential ? post(form, credential, "") : post(form, null, "NotAllowedError");
  };

  const onSubmit = (event) => {
    const form = event.currentTarget;
    event.preventDefault();
    if (busy) return;
    busy = true;
    // The clicked button's name and value would be lost by a native submit().
    const submitter = event.submitter;
    if (submitter && submitter.name) field(form, submitter.name).value = submitter.value;
    ceremony(form, form.getAttribute("data-webauthn")).finally(() => {
      busy = false;
    });
  };

  const autofill = async (form) => {
    if (!supported || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") {
      return;
    }
    try {
      if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
      conditional = new AbortController();
      const credential = await navigator.credentials.get({
        mediation: "conditional",
        publicKey: requestOptions(options(form)),
        signal: conditional.signal,
      });
      if (credential && !busy) {
        busy = true;
        post(form, credential, "");
      }
    } catch (error) {
      // Aborted, refused or unavailable: the user types a login name instead.
    } finally {
      conditional = null;
    }
  };

  const start = () => {
    if (!supported) {
      document.querySelectorAll("[data-webauthn-only]").forEach((element) => {
        element.hidden = true;
      });
    }
    document.querySelectorAll('form[data-webauthn="create"], form[data-webauthn="get"]')
      .forEach((form) => form.addEventListener("submit", onSubmit));
    document.querySelectorAll('form[data-webauthn="conditional"]').forEach((form) => {
      autofill(form);
    });
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
