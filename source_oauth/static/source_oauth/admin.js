// The "API" section of the admin: copy buttons; the one-time secret's URL
// taken out of the address bar and history; PKCE shown as required while
// "Confidential Client" is unticked (a public client always uses it).
"use strict";
{
    function copyText(text) {
        if (navigator.clipboard && window.isSecureContext) {
            return navigator.clipboard.writeText(text);
        }
        // Plain http on another host than localhost: the clipboard API is not offered.
        const area = document.createElement("textarea");
        area.value = text;
        area.setAttribute("readonly", "");
        area.style.position = "fixed";
        area.style.opacity = "0";
        document.body.appendChild(area);
        area.select();
        const copied = document.execCommand("copy");
        area.remove();
        return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
    }

    document.addEventListener("click", function(event) {
        const button = event.target.closest(".source-oauth-copy");
        if (!button) {
            return;
        }
        const source = button.dataset.copyFrom && document.getElementById(button.dataset.copyFrom);
        const text = source ? source.textContent.trim() : button.dataset.copy;
        copyText(text).then(function() {
            const content = button.innerHTML;
            button.textContent = button.dataset.copied || button.textContent;
            setTimeout(function() { button.innerHTML = content; }, 2000);
        }, function() {
            if (source) {
                window.getSelection().selectAllChildren(source);
            }
        });
    });

    const url = new URL(window.location.href);
    if (url.searchParams.has("one_time")) {
        url.searchParams.delete("one_time");
        window.history.replaceState(null, "", url);
    }

    document.addEventListener("DOMContentLoaded", function() {
        const confidential = document.getElementById("id_confidential");
        const pkce = document.getElementById("id_require_pkce");
        if (!confidential || !pkce) {
            return;
        }
        let chosen = pkce.checked;
        function sync() {
            if (confidential.checked) {
                pkce.disabled = false;
                pkce.checked = chosen;
            } else {
                chosen = pkce.disabled ? chosen : pkce.checked;
                pkce.checked = true;
                pkce.disabled = true;
            }
        }
        confidential.addEventListener("change", sync);
        sync();
    });
}
