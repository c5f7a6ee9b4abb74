/**
 * An account holder's name as the screen may show it to whoever typed the phone number, masked the
 * way Chinese operators do, so the customer can recognise the account without strangers learning
 * whose it is:
 * - a name in Chinese characters keeps only its last character: 张四 → *四, 欧阳娜娜 → ***娜;
 * - a name in Latin letters keeps the first letter of each word: Li Si → L* S*, Zhang San → Z* S*.
 * A name mixing both is masked word by word with the rule of each word.
 */
export function maskHolderName(name: string): string {
  const words = name.trim().split(/\s+/).filter((w) => w !== '');
  return words.map(maskWord).join(' ');
}

const HAN = /\p{Script=Han}/u;

function maskWord(word: string): string {
  const chars = [...word];
  if (chars.some((c) => HAN.test(c))) return chars.length <= 1 ? '*' : '*'.repeat(chars.length - 1) + chars.at(-1);
  return `${chars[0] ?? ''}*`;
}
