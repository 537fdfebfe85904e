"""OFD packages (GB/T 33190) sealed with a GB/T 38540 e-seal (SM2/SM3), and their verification.

Pure (no Django). ``ofd_build`` takes one page of positioned text and images (millimetres, origin
top left, as OFD measures) and returns the ZIP:

    OFD.xml                           DocBody: DocInfo (+ CustomDatas), DocRoot, Signatures
    Doc_0/Document.xml                CommonData (PhysicalBox 210×297), PublicRes, DocumentRes, Pages
    Doc_0/PublicRes.xml               the font, with its FontFile
    Doc_0/Res/<FontName>.ttf          the font, subset to the glyphs the page uses (~10 KB)
    Doc_0/DocumentRes.xml             the images (MultiMedia) in Doc_0/Res/
    Doc_0/Pages/Page_0/Content.xml    TextObjects and ImageObjects
    Doc_0/Signs/Signatures.xml        the list of signatures
    Doc_0/Signs/Sign_0/Signature.xml  SignedInfo: References (SM3 of every other file), StampAnnot
    Doc_0/Signs/Sign_0/SignedValue.dat  DER SES_Signature (v4) over Signature.xml

The font travels in the package as in the PDF: a reader without the CJK font installed (easyofd,
a phone) draws the text with it; naming a font without embedding it gave a page with the QR code
and the seal and no text. Like every file, it is covered by the signature's references.
Dates written into the package (``CreationDate``, the ZIP entries' times) are in Asia/Shanghai,
the zone of every document the library makes; ``SignatureDateTime`` is UTC and says so (``Z``).

The seal picture is not a page object: it travels inside the ``SESeal`` and the ``StampAnnot``
places it, so a reader shows the seal only together with the signature it belongs to.

``ofd_verify`` opens a package and answers like ``verify_pdf`` (a ``FileCheck``): 0 when every
reference digest matches, no file is left unreferenced, ``dataHash`` = SM3(Signature.xml), the
SES_Signature verifies with its certificate's SM2 key, the seal verifies with its maker's key,
the signer is one of the seal's certificates, and both certificates chain to a trusted SM2 root;
1 with a reason word otherwise; 2 when the data is not an OFD package.

Split by concern: ``model`` (the page, font and signer; the package's names), ``layout`` (the
XML parts), ``builder`` (``ofd_build``) and ``verifier`` (``ofd_verify``).
"""

from shared.crypto.ofd.builder import ofd_build
from shared.crypto.ofd.model import NS, OfdFont, OfdImage, OfdPage, OfdSigner, OfdText
from shared.crypto.ofd.verifier import is_ofd, ofd_verify

__all__ = [
    "NS",
    "OfdFont",
    "OfdImage",
    "OfdPage",
    "OfdSigner",
    "OfdText",
    "is_ofd",
    "ofd_build",
    "ofd_verify",
]
