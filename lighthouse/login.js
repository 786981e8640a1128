/* lhci's puppeteerScript: before each audit, put the run's session cookie (made by seed.py,
   handed over in LIGHTHOUSE_SESSION_COOKIE as name=value) into the browser's cookie jar.
   An extraHeaders Cookie reaches the page's own request but not the fetch() calls the page
   makes afterwards (the notification bell's poll), which then ran logged out. */
"use strict";

module.exports = async (browser, context) => {
  const cookie = process.env.LIGHTHOUSE_SESSION_COOKIE || "";
  const split = cookie.indexOf("=");
  if (split < 1) throw new Error("LIGHTHOUSE_SESSION_COOKIE must be name=value");
  const page = await browser.newPage();
  try {
    await page.setCookie({
      name: cookie.slice(0, split),
      value: cookie.slice(split + 1),
      url: new URL(context.url).origin,
      httpOnly: true,
      sameSite: "Lax",
    });
  } finally {
    await page.close();
  }
};
