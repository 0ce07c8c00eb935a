/**
 * The participant-facing notice on a deny, in the language the join flow asks for (Accept-Language).
 * It names the country or region and says a legal order is the reason; it never names the order, the
 * authority or its reference. On the join check's hot path: string work only.
 */
import type { Language } from "./language.js";
import { placeName } from "./places.js";

export function denialNotice(jurisdiction: string, lang: Language): string {
  const place = placeName(jurisdiction, lang);
  switch (lang) {
    case "nl":
      return `U kunt vanuit ${place} niet aan deze vergadering deelnemen. De toegang vanuit ${place} is beperkt vanwege een wettelijk bevel.`;
    case "en":
      return `You cannot join this meeting from ${place}. Access from ${place} is restricted because of a legal order.`;
  }
}
